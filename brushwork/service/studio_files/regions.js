// The region brush: one hidden layer per style, painted over the photo; each layer becomes that
// style's mask (opaque where painted), at the photo's own size, as the API expects.

export const COLOURS = ["#e4572e", "#1b998b", "#f3a712", "#6c4ab6", "#2e86de", "#c0392b"];

export class Regions {
  constructor(canvas) {
    this.canvas = canvas;
    this.view = canvas.getContext("2d");
    this.layers = [];
    this.active = 0;
    this.erasing = false;
    this.radius = 20;
    this.last = null;
    canvas.addEventListener("pointerdown", (event) => this.down(event));
    canvas.addEventListener("pointermove", (event) => this.move(event));
    for (const name of ["pointerup", "pointerleave", "pointercancel"]) {
      canvas.addEventListener(name, () => { this.last = null; });
    }
  }

  // A new photo of width x height pixels: the canvas takes its size, strokes are cleared.
  reset(width, height, styles) {
    this.canvas.width = width;
    this.canvas.height = height;
    this.layers = [];
    this.fit(styles);
  }

  // One layer per style, keeping the strokes of the styles that stay.
  fit(styles) {
    while (this.layers.length < styles) {
      const layer = document.createElement("canvas");
      layer.width = this.canvas.width;
      layer.height = this.canvas.height;
      this.layers.push(layer);
    }
    this.layers.length = styles;
    this.active = Math.min(this.active, Math.max(0, styles - 1));
    this.draw();
  }

  remove(index) {
    this.layers.splice(index, 1);
    this.fit(this.layers.length);
  }

  clear() {
    for (const layer of this.layers) layer.getContext("2d").clearRect(0, 0, layer.width, layer.height);
    this.draw();
  }

  // For each style, whether any of its region is painted.
  painted() {
    return this.layers.map((layer) => {
      const { data } = layer.getContext("2d").getImageData(0, 0, layer.width, layer.height);
      for (let i = 3; i < data.length; i += 4) if (data[i]) return true;
      return false;
    });
  }

  point(event) {
    const box = this.canvas.getBoundingClientRect();
    const scale = this.canvas.width / box.width;
    return { x: (event.clientX - box.left) * scale, y: (event.clientY - box.top) * scale, scale };
  }

  down(event) {
    if (!this.layers.length) return;
    this.canvas.setPointerCapture(event.pointerId);
    this.last = this.point(event);
    this.stroke(this.last, this.last);
  }

  move(event) {
    if (!this.last) return;
    const next = this.point(event);
    this.stroke(this.last, next);
    this.last = next;
  }

  // Paint the active style's layer along a segment and take that ground from the other layers;
  // the eraser takes it from every layer.
  stroke(from, to) {
    this.layers.forEach((layer, index) => {
      const pen = layer.getContext("2d");
      const adding = !this.erasing && index === this.active;
      pen.globalCompositeOperation = adding ? "source-over" : "destination-out";
      pen.strokeStyle = "#ffffff";
      pen.lineWidth = 2 * this.radius * from.scale;
      pen.lineCap = "round";
      pen.beginPath();
      pen.moveTo(from.x, from.y);
      pen.lineTo(to.x + 0.01, to.y);
      pen.stroke();
    });
    this.draw();
  }

  // What the user sees: each layer tinted in its style's colour.
  draw() {
    const tint = this.tint || (this.tint = document.createElement("canvas"));
    tint.width = this.canvas.width;
    tint.height = this.canvas.height;
    const pen = tint.getContext("2d");
    this.view.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.layers.forEach((layer, index) => {
      pen.globalCompositeOperation = "source-over";
      pen.clearRect(0, 0, tint.width, tint.height);
      pen.drawImage(layer, 0, 0);
      pen.globalCompositeOperation = "source-in";
      pen.fillStyle = COLOURS[index % COLOURS.length];
      pen.fillRect(0, 0, tint.width, tint.height);
      this.view.drawImage(tint, 0, 0);
    });
  }

  // Each style's mask as a PNG blob: its layer, opaque where painted (the API reads a mask's alpha).
  async masks() {
    return Promise.all(this.layers.map((layer) => new Promise((done) => layer.toBlob(done, "image/png"))));
  }
}
