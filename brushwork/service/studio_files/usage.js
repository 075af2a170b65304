// The key's usage: a bar chart by day (stacked by method) in SVG, a table, and what the quotas leave.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640, HEIGHT = 220, LEFT = 48, BOTTOM = 28, TOP = 12, BAR_BAND = 72;
const METHOD_COLOURS = { adain: "#8a3b12", fast: "#1b998b", feedforward: "#f3a712", gatys: "#6c4ab6" };
const UNITS = { calls: "calls", megapixels: "megapixels", seconds: "compute seconds" };

function element(name, attributes, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

const round = (value) => Math.round(value * 1000) / 1000;
const counted = (value, unit) => `${round(value)} ${value === 1 ? unit.replace(/s$/, "") : unit}`;

export function drawChart(svg, caption, rows, measure) {
  svg.replaceChildren();
  const days = [...new Set(rows.map((row) => row.day))].sort();
  if (!days.length) {
    caption.textContent = "No usage yet.";
    return;
  }
  const totals = days.map((day) => rows.filter((r) => r.day === day).reduce((sum, r) => sum + r[measure], 0));
  const top = Math.max(...totals) || 1;
  const band = Math.min(BAR_BAND, (WIDTH - LEFT) / days.length);
  const scale = (value) => (value / top) * (HEIGHT - BOTTOM - TOP);
  svg.append(element("line", { x1: LEFT, y1: HEIGHT - BOTTOM, x2: WIDTH, y2: HEIGHT - BOTTOM, stroke: "#5c554c" }));
  svg.append(element("text", { x: 4, y: TOP + 8 }, String(round(top))));
  svg.append(element("text", { x: 4, y: HEIGHT - BOTTOM }, "0"));
  days.forEach((day, index) => {
    let base = HEIGHT - BOTTOM;
    const x = LEFT + index * band + band * 0.15;
    for (const row of rows.filter((r) => r.day === day)) {
      const height = scale(row[measure]);
      base -= height;
      const bar = element("rect", { x, y: base, width: band * 0.7, height, fill: METHOD_COLOURS[row.method] || "#5c554c",
        "data-method": row.method, "data-day": day, "data-value": row[measure] });
      bar.append(element("title", {}, `${day} ${row.method}: ${round(row[measure])} ${UNITS[measure]}`));
      svg.append(bar);
    }
    svg.append(element("text", { x: x, y: HEIGHT - 8 }, day.slice(5)));
  });
  const total = round(totals.reduce((a, b) => a + b, 0));
  caption.textContent = `${counted(total, UNITS[measure])} over ${counted(days.length, "days")}, ` +
    `by day and method (${[...new Set(rows.map((r) => r.method))].join(", ")}).`;
}

export function fillTable(body, rows) {
  body.replaceChildren(...rows.map((row) => {
    const line = document.createElement("tr");
    for (const value of [row.day, row.method, row.calls, round(row.megapixels), round(row.seconds)]) {
      const cell = document.createElement("td");
      cell.textContent = String(value);
      line.append(cell);
    }
    return line;
  }));
}

export function quotaLine(month) {
  const part = (name, value) => value.quota === null
    ? `${counted(value.used, name)} used (no quota)`
    : `${round(value.used)} of ${counted(value.quota, name)} used, ${round(value.remaining)} left`;
  return `This month (${month.month}): ${part("calls", month.calls)}; ${part("megapixels", month.megapixels)}. ` +
    `Quotas reset ${month.resets.slice(0, 10)}.`;
}
