#!/usr/bin/env python3
"""brushwork for GIMP 3: Filters > Artistic > Style Transfer...

This file runs in GIMP's own Python, which has no torch. It reads the layer's pixels (and the
selection, as a soft mask) as floats, hands them to brushwork's worker (``python -m
gimp_plugin.worker``, run by the brushwork Python named in ``brushwork.json`` beside this file,
which ``brushwork gimp install`` writes) through a temporary folder, follows the worker's progress
lines, and writes the result into a new layer above the original (or, if asked, into the layer
itself), all inside one undo group. Standard library, gi and numpy only.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
import numpy as np  # noqa: E402
from gi.repository import Gegl, Gimp, GimpUi, GLib, GObject  # noqa: E402

PROCEDURE = "plug-in-brushwork-style-transfer"
CONFIG = Path(__file__).with_name("brushwork.json")
METHODS = (
    ("adain", "AdaIN (any style image; one pass)"),
    ("gatys", "Gram optimisation (any style image; slow, finest)"),
    ("fast", "Fast arbitrary (any style image; fastest)"),
    ("feedforward", "Feed-forward model (a trained style)"),
)
DEFAULT_METHOD = "adain"
STRENGTH = {"adain": 1.0, "gatys": 0.5, "fast": 1.0, "feedforward": 1.0}
"""Each method's default strength, the core's (``plugin_core.api.DEFAULT_STRENGTH``, which this Python
cannot import): the dialog's slider moves to it when the method changes."""
COLORS = (
    ("none", "Take the style's colours"),
    ("luminance", "Keep the photo's colours (luminance only)"),
    ("histogram", "Keep the photo's colours (histogram matching)"),
    ("reinhard", "Keep the photo's colours (Reinhard)"),
    ("linear", "Keep the photo's colours (linear map)"),
)
# babl formats by (grey, alpha); perceptual (gamma) values, as brushwork reads image files
FORMATS = {(False, False): "R'G'B' float", (False, True): "R'G'B'A float",
           (True, False): "Y' float", (True, True): "Y'A float"}


def _choice(options):
    choice = Gimp.Choice.new()
    for index, (nick, label) in enumerate(options):
        choice.add(nick, index, label, "")
    return choice


def _read(drawable, x, y, width, height):
    """Pixels of ``drawable`` in the rectangle, float32 ``[h, w, channels]``, and their babl format."""
    fmt = FORMATS[(drawable.is_gray(), drawable.has_alpha())]
    raw = drawable.get_buffer().get(Gegl.Rectangle.new(x, y, width, height), 1.0, fmt, Gegl.AbyssPolicy.CLAMP)
    return np.frombuffer(raw, np.float32).reshape(height, width, -1), fmt


def _selection(image, drawable, use_selection):
    """``(x, y, w, h, mask)``: the part of the layer to work on, in layer coordinates, and the
    selection over it (None: the whole layer, no mask)."""
    width, height = drawable.get_width(), drawable.get_height()
    if not use_selection or Gimp.Selection.is_empty(image):
        return 0, 0, width, height, None
    _, offset_x, offset_y = drawable.get_offsets()
    _, _, x1, y1, x2, y2 = Gimp.Selection.bounds(image)
    x1, y1 = max(x1 - offset_x, 0), max(y1 - offset_y, 0)
    x2, y2 = min(x2 - offset_x, width), min(y2 - offset_y, height)
    if x2 <= x1 or y2 <= y1:
        raise ValueError("the selection does not touch this layer")
    rectangle = Gegl.Rectangle.new(offset_x + x1, offset_y + y1, x2 - x1, y2 - y1)
    raw = image.get_selection().get_buffer().get(rectangle, 1.0, "Y float", Gegl.AbyssPolicy.NONE)
    return x1, y1, x2 - x1, y2 - y1, np.frombuffer(raw, np.float32).reshape(y2 - y1, x2 - x1)


def _worker_python():
    if not CONFIG.is_file():
        raise ValueError(f"brushwork is not set up for this plug-in ({CONFIG} is missing): "
                         "run `brushwork gimp install` from the brushwork environment")
    python = json.loads(CONFIG.read_text())["python"]
    if not Path(python).is_file():
        raise ValueError(f"the brushwork Python {python} no longer exists: run `brushwork gimp install` again")
    return python


def _stylize(folder, request, progress):
    """Run the worker on ``folder``; returns the result pixels, or raises with the worker's reason."""
    (folder / "request.json").write_text(json.dumps(request))
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("PYTHONPATH", "PYTHONHOME", "GI_TYPELIB_PATH")}
    with open(folder / "worker.log", "w+") as log:  # a file, not a pipe: a chatty worker cannot block
        # stdin: held open, never written; it ends when this process does, which tells the worker to stop
        worker = subprocess.Popen([_worker_python(), "-m", "gimp_plugin.worker", str(folder)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=environment)
        reason = ""
        for line in worker.stdout:
            kind, _, rest = line.strip().partition(" ")
            if kind == "progress":
                progress(float(rest))
            elif kind == "error":
                reason = rest
        if worker.wait() != 0:
            log.seek(0)
            last = (log.read().strip().splitlines() or ["no output"])[-1]
            raise ValueError(reason or f"the brushwork worker failed: {last}")
    return np.load(folder / "result.npy", allow_pickle=False)


def _write(image, drawable, pixels, fmt, x, y, new_layer):
    """Put ``pixels`` at ``(x, y)`` of the layer: into a new layer above it, or into it (through its
    shadow buffer, so the change is one undo step)."""
    height, width = pixels.shape[:2]
    data = np.ascontiguousarray(pixels, np.float32).tobytes()
    if new_layer:
        layer = Gimp.Layer.new(image, f"{drawable.get_name()} (style transfer)", width, height, drawable.type(),
                               100.0, Gimp.LayerMode.NORMAL)
        image.insert_layer(layer, drawable.get_parent(), image.get_item_position(drawable))
        _, offset_x, offset_y = drawable.get_offsets()
        layer.set_offsets(offset_x + x, offset_y + y)
        buffer = layer.get_buffer()
        buffer.set(Gegl.Rectangle.new(0, 0, width, height), fmt, data)
        buffer.flush()
        layer.update(0, 0, width, height)
        return
    shadow = drawable.get_shadow_buffer()
    shadow.set(Gegl.Rectangle.new(x, y, width, height), fmt, data)
    shadow.flush()
    drawable.merge_shadow(True)
    drawable.update(x, y, width, height)


def _method_strength(config, _):
    """A method picked in the dialog brings its own default strength."""
    config.set_property("strength", STRENGTH[config.get_property("method")])


def run(procedure, run_mode, image, drawables, config, data):
    if run_mode == Gimp.RunMode.INTERACTIVE:
        GimpUi.init(PROCEDURE)
        config.connect("notify::method", _method_strength)
        dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config)
        dialog.fill(None)
        accepted = dialog.run()
        dialog.destroy()
        if not accepted:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
    try:
        if len(drawables) != 1:
            raise ValueError("select exactly one layer to paint")
        drawable = drawables[0]
        if drawable.is_indexed():
            raise ValueError("indexed images are not supported: convert with Image > Mode > RGB first")
        x, y, width, height, mask = _selection(image, drawable, config.get_property("use-selection"))
        content, fmt = _read(drawable, x, y, width, height)
        method = config.get_property("method")
        style_file = config.get_property("style-file")
        style_layer = config.get_property("style-layer")
        request = {
            "method": method, "model": config.get_property("model"), "strength": config.get_property("strength"),
            "color": config.get_property("color"), "size": config.get_property("size"),
            "tile": config.get_property("tile"), "steps": config.get_property("steps"),
            "watermark": config.get_property("watermark"),
            "style": style_file.get_path() if style_file is not None and style_layer is None else None,
        }
        Gimp.progress_init("Style transfer")
        with tempfile.TemporaryDirectory(prefix="brushwork-gimp-") as temporary:
            folder = Path(temporary)
            np.save(folder / "content.npy", content)
            if mask is not None:
                np.save(folder / "mask.npy", mask)
            if style_layer is not None:
                np.save(folder / "style.npy", _read(style_layer, 0, 0, style_layer.get_width(),
                                                    style_layer.get_height())[0])
            result = _stylize(folder, request, Gimp.progress_update)
        image.undo_group_start()
        try:
            _write(image, drawable, result, fmt, x, y, config.get_property("new-layer"))
        finally:
            image.undo_group_end()
        Gimp.progress_end()
        Gimp.displays_flush()
    except (ValueError, OSError) as error:
        return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR,
                                           GLib.Error.new_literal(Gimp.PlugIn.error_quark(), f"brushwork: {error}", 0))
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


class BrushworkStyleTransfer(Gimp.PlugIn):
    def do_set_i18n(self, name):
        return False

    def do_query_procedures(self):
        return [PROCEDURE]

    def do_create_procedure(self, name):
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        procedure.set_image_types("RGB*, GRAY*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label("_Style Transfer...")
        procedure.add_menu_path("<Image>/Filters/Artistic")
        procedure.set_documentation("Paint the layer in the style of a picture (brushwork neural style transfer)",
                                    "Repaints the layer, or the selected part of it, in the style of a painting: "
                                    "Gram optimisation, AdaIN, brushwork's fast model or a trained feed-forward "
                                    "style. The result goes into a new layer unless asked otherwise.", name)
        procedure.set_attribution("brushwork", "brushwork developers", "2026")
        flags = GObject.ParamFlags.READWRITE
        procedure.add_file_argument("style-file", "Style _image", "The painting whose style to take",
                                    Gimp.FileChooserAction.OPEN, True, None, flags)
        procedure.add_layer_argument("style-layer", "Style la_yer", "A layer of an open image as the style "
                                     "(instead of the file)", True, flags)
        procedure.add_choice_argument("method", "_Method", "How to paint", _choice(METHODS), DEFAULT_METHOD, flags)
        procedure.add_string_argument("model", "Mo_del", "AdaIN decoder, fast or feed-forward model: a name "
                                      "from `brushwork models list` or a file (empty: the installed default)",
                                      "", flags)
        procedure.add_double_argument("strength", "Stren_gth", "0 = the photo, 1 = all style (default: gatys 0.5, "
                                      "where 0.25 is Gatys et al.'s classic balance; adain, feedforward and fast 1)",
                                      0.0, 1.0, STRENGTH[DEFAULT_METHOD], flags)
        procedure.add_choice_argument("color", "Colo_urs", "Colour preservation", _choice(COLORS), "none", flags)
        procedure.add_int_argument("size", "_Working size", "Long side of the working image, then scaled to the "
                                   "layer (0: the layer's own size)", 0, 8192, 512, flags)
        procedure.add_int_argument("tile", "_Tiles", "Paint large images in overlapping tiles of this many pixels "
                                   "that share the whole image's statistics, so no seams show (0: automatic, when "
                                   "free memory calls for it)", 0, 8192, 0, flags)
        procedure.add_int_argument("steps", "S_teps", "Gram optimisation steps over all scales", 1, 5000, 200, flags)
        procedure.add_boolean_argument("use-selection", "Use the s_election as a mask", "Paint only inside "
                                       "the selection; a soft selection feathers the effect", True, flags)
        procedure.add_boolean_argument("new-layer", "Output as a _new layer", "Put the result in a new layer "
                                       "above (otherwise replace the layer's pixels)", True, flags)
        procedure.add_boolean_argument("watermark", "In_visible watermark", "Add brushwork's invisible mark, which "
                                       "says the image was made by brushwork and survives re-saving, resizing and "
                                       "cropping (`brushwork verify` reads it)", True, flags)
        return procedure


Gimp.main(BrushworkStyleTransfer.__gtype__, sys.argv)
