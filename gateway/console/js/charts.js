// Hand-written SVG charts: vertical bars over days, horizontal bars over names. No library.

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

/** Bars for `points` ([label, value]); labels shown every few bars so they do not overlap. */
export function columnChart(points, { title, width = 420, height = 180, alt = false, format = String } = {}) {
  const pad = { left: 40, right: 8, top: 10, bottom: 28 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const max = Math.max(1, ...points.map(([, v]) => v));
  const step = points.length ? innerW / points.length : innerW;
  const every = Math.max(1, Math.ceil(points.length / 8));
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  chart.append(svg("title", {}, title));
  chart.append(svg("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: pad.top + innerH, y2: pad.top + innerH }));
  chart.append(svg("text", { x: pad.left - 4, y: pad.top + 8, "text-anchor": "end" }, format(max)));
  chart.append(svg("text", { x: pad.left - 4, y: pad.top + innerH, "text-anchor": "end" }, "0"));
  points.forEach(([label, value], index) => {
    const barH = (value / max) * innerH;
    const x = pad.left + index * step + step * 0.15;
    const bar = svg("rect", {
      class: alt ? "bar alt" : "bar",
      x,
      y: pad.top + innerH - barH,
      width: Math.max(1, step * 0.7),
      height: barH,
    });
    bar.append(svg("title", {}, `${label}: ${format(value)}`));
    chart.append(bar);
    if (index % every === 0) {
      chart.append(svg("text", { x: x + step * 0.35, y: height - 10, "text-anchor": "middle" }, label));
    }
  });
  return chart;
}

/** One horizontal bar per [name, value]. */
export function barChart(points, { title, width = 420, format = String } = {}) {
  const row = 24;
  const labelW = 110;
  const height = Math.max(row, points.length * row) + 8;
  const max = Math.max(1, ...points.map(([, v]) => v));
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  chart.append(svg("title", {}, title));
  points.forEach(([name, value], index) => {
    const y = 4 + index * row;
    const barW = ((width - labelW - 60) * value) / max;
    chart.append(svg("text", { x: labelW - 6, y: y + 14, "text-anchor": "end" }, name));
    const bar = svg("rect", { class: "bar", x: labelW, y: y + 3, width: Math.max(value ? 2 : 0, barW), height: row - 8 });
    bar.append(svg("title", {}, `${name}: ${format(value)}`));
    chart.append(bar);
    chart.append(svg("text", { x: labelW + barW + 6, y: y + 14 }, format(value)));
  });
  return chart;
}
