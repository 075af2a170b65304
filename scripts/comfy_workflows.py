#!/usr/bin/env python3
"""Write ComfyUI's graph-format example workflows from the API-format ones the host test runs.

    python scripts/comfy_workflows.py --object-info http://127.0.0.1:8188/object_info

Reads ``tests/host/workflows/*.json`` (what ``/prompt`` takes) and writes
``example_workflows/*.json`` (what ComfyUI's editor opens and its template browser lists), with
nodes laid out left to right by depth. ``--object-info`` is a running ComfyUI's ``/object_info``
(URL or saved file): it says which inputs are sockets and which are widgets, and in what order.
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "host" / "workflows"
TARGET = ROOT / "example_workflows"
COLUMN, ROW, NODE_SIZE = 380, 320, (320, 260)
SEED_INPUTS = ("seed", "noise_seed")
"""INT inputs the editor follows with a 'control after generate' widget."""


def widget_names(info: dict) -> tuple[list[str], set[str]]:
    """(widget inputs in order, socket inputs) of one node type."""
    widgets, sockets = [], set()
    for group in ("required", "optional"):
        for name, spec in info["input"].get(group, {}).items():
            kind = spec[0]
            is_widget = isinstance(kind, list) or kind in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
            (widgets.append(name) if is_widget else sockets.add(name))
    return widgets, sockets


def depths(workflow: dict) -> dict[str, int]:
    """Each node's distance from the graph's sources."""
    found: dict[str, int] = {}

    def depth(node: str) -> int:
        if node not in found:
            parents = [value[0] for value in workflow[node]["inputs"].values() if isinstance(value, list)]
            found[node] = 1 + max((depth(parent) for parent in parents), default=-1)
        return found[node]

    for node in workflow:
        depth(node)
    return found


def to_graph(workflow: dict, object_info: dict) -> dict:
    """An API-format workflow as the editor's graph format."""
    level = depths(workflow)
    rows: dict[int, int] = {}
    nodes, links = [], []
    outputs: dict[tuple[str, int], list[int]] = {}
    for node_id, node in workflow.items():
        for value in node["inputs"].values():
            if isinstance(value, list):
                links.append([len(links) + 1, int(value[0]), value[1], int(node_id), None, None])
                outputs.setdefault((value[0], value[1]), []).append(len(links))
    link_of = {}
    for link in links:
        link_of.setdefault(link[3], []).append(link)
    for order, (node_id, node) in enumerate(sorted(workflow.items(), key=lambda item: level[item[0]])):
        info = object_info[node["class_type"]]
        widgets, sockets = widget_names(info)
        inputs = []
        incoming = {name: value for name, value in node["inputs"].items() if isinstance(value, list)}
        for group in ("required", "optional"):
            for name, spec in info["input"].get(group, {}).items():
                if name not in sockets:
                    continue
                link_id = None
                if name in incoming:
                    link = next(link for link in link_of[int(node_id)] if link[1] == int(incoming[name][0])
                                and link[2] == incoming[name][1] and link[4] is None)
                    link[4], link[5] = len(inputs), spec[0]
                    link_id = link[0]
                inputs.append({"name": name, "type": spec[0], "link": link_id})
        values = []
        for name in widgets:
            spec = {**info["input"].get("optional", {}), **info["input"].get("required", {})}[name]
            options = spec[1] if len(spec) > 1 else {}
            values.append(node["inputs"].get(name, options.get("default")))
            if name in SEED_INPUTS:
                values.append("fixed")
            if options.get("image_upload"):
                values.append("image")
        names = info.get("output_name", info["output"])
        row = rows.get(level[node_id], 0)
        rows[level[node_id]] = row + 1
        nodes.append({
            "id": int(node_id), "type": node["class_type"], "pos": [50 + COLUMN * level[node_id], 50 + ROW * row],
            "size": list(NODE_SIZE), "flags": {}, "order": order, "mode": 0, "inputs": inputs,
            "outputs": [{"name": name, "type": kind, "links": outputs.get((node_id, slot), []), "slot_index": slot}
                        for slot, (name, kind) in enumerate(zip(names, info["output"], strict=True))],
            "properties": {"Node name for S&R": node["class_type"]}, "widgets_values": values,
        })
    return {
        "last_node_id": max(int(node_id) for node_id in workflow), "last_link_id": len(links), "nodes": nodes,
        "links": links, "groups": [], "config": {}, "extra": {}, "version": 0.4,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--object-info", required=True, help="URL of a running ComfyUI's /object_info, or a file")
    args = parser.parse_args()
    if args.object_info.startswith("http"):
        with urllib.request.urlopen(args.object_info, timeout=30) as response:
            object_info = json.load(response)
    else:
        object_info = json.loads(Path(args.object_info).read_text())
    TARGET.mkdir(exist_ok=True)
    for source in sorted(SOURCE.glob("*.json")):
        graph = to_graph(json.loads(source.read_text()), object_info)
        (TARGET / source.name).write_text(json.dumps(graph, indent=1) + "\n")
        print(f"wrote {TARGET / source.name}")


if __name__ == "__main__":
    main()
