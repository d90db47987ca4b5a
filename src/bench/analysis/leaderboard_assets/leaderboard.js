// Draws the leaderboard from the JSON block #data. Text from results files is only set as textContent.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("data").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
  const DASHES = ["", "5,3", "2,2", "8,3,2,3"];
  let chartCount = 0;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined) node.setAttribute(k, String(v));
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }
  function fmt(x, digits) {
    if (x === null || x === undefined) return "–";
    if (Number.isInteger(x) && Math.abs(x) < 1e7) return String(x);
    if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e7)) return x.toExponential((digits || 4) - 2);
    return Number(x.toPrecision(digits || 4)).toString();
  }
  function arrow(higher) { return higher === true ? " ↑" : higher === false ? " ↓" : ""; }
  function cellText(est, key, generations) {
    if (!est || est[0] === null) return ["–", ""];
    if (DATA.event_scores.includes(key) && est[0] === generations) return ["none", ""];  // censored in every seed
    const [mean, low, high] = est;
    return [fmt(mean), high === null ? "" : "± " + fmt(high - mean, 2)];
  }
  function styleOf(i) { return { color: COLORS[i % COLORS.length], dash: DASHES[Math.floor(i / COLORS.length) % DASHES.length] }; }

  // entries: one table's rows (styled); apart: the entries never ranked (generation 0 diverged or unhealthy), shown
  // with their reason
  function table(track, entries, apart) {
    const columns = [
      { key: "rank", title: "rank", value: (e) => e.rank },
      { key: "entry", title: "entry", value: (e) => e.label, text: true },
      { key: "n", title: "n", value: (e) => e.seeds.length },
    ].concat(track.columns.map((c) => ({ key: c.key, title: c.title + arrow(c.higher), value: (e) => (e.scores[c.key] || [null])[0], score: c })));
    if (apart) columns.push({ key: "not_ranked", title: "why not ranked", value: (e) => e.not_ranked, text: true });
    const tbody = el("tbody");
    const thead = el("thead");
    const headRow = el("tr");
    const state = { key: apart ? "entry" : "rank", dir: 1 };

    function render() {
      const col = columns.find((c) => c.key === state.key);
      const sorted = entries.slice().sort((a, b) => {
        const va = col.value(a), vb = col.value(b);
        if (va === null || va === undefined) return 1;
        if (vb === null || vb === undefined) return -1;
        if (col.text) return state.dir * String(va).localeCompare(String(vb));
        return state.dir * (va - vb);
      });
      tbody.replaceChildren(...sorted.map((e) => {
        const tr = el("tr", { "data-entry": e.id, class: e.rank === 1 ? "ranked-1" : null });
        tr.append(el("td", {}, e.rank === null ? "–" : String(e.rank)));
        const name = el("td", { class: "entry" }, el("span", { class: "swatch", style: "background:" + e.style.color }), e.label);
        if (e.flags) name.append(el("span", { class: "flag", title: e.flags }, "⚠ " + e.flags));
        tr.append(name);
        tr.append(el("td", { title: "seeds " + e.seeds.join(", ") }, String(e.seeds.length)));
        for (const c of track.columns) {
          const est = e.scores[c.key];
          const [main, pm] = cellText(est, c.key, track.generations);
          const title = est && est[1] !== null ? "95% t interval [" + fmt(est[1]) + ", " + fmt(est[2]) + "], n=" + est[3]
            : est && est[0] !== null ? "n=" + est[3] + ": no interval" : "no value";
          tr.append(el("td", { title: title }, main, el("span", { class: "pm" }, pm)));  // ± on its own line (CSS)
        }
        if (apart) tr.append(el("td", { class: "entry reason" }, e.not_ranked));
        return tr;
      }));
      for (const th of headRow.children) {
        th.classList.remove("sorted-asc", "sorted-desc");
        if (th.dataset.key === state.key) th.classList.add(state.dir > 0 ? "sorted-asc" : "sorted-desc");
      }
    }
    for (const c of columns) {
      const th = el("th", { "data-key": c.key, class: c.text ? "entry" : null, title: c.score ? (DATA.definitions[c.key.split(".").slice(1).join(".")] || DATA.definitions[c.key] || "") : "" }, c.title);
      th.addEventListener("click", () => {
        if (state.key === c.key) state.dir = -state.dir;
        else { state.key = c.key; state.dir = c.score && c.score.higher === true ? -1 : 1; }
        render();
      });
      headRow.append(th);
    }
    thead.append(headRow);
    render();
    return el("table", { class: apart ? "board not-ranked" : "board", id: (apart ? "apart-" : "table-") + track.id }, thead, tbody);
  }

  function chart(metric, entries, generations) {
    const W = 252, H = 165, L = 46, R = 8, T = 8, B = 24;
    // the axis spans the means (and the floor when it is near): a wide two-seed interval band is clipped, not
    // allowed to flatten every curve
    const values = [];
    for (const e of entries) {
      for (const p of e.curves[metric.key] || []) if (p && p[0] !== null) values.push(p[0]);
    }
    const floorShown = metric.floor !== null && values.length > 0 &&
      metric.floor >= Math.min(...values) - 0.5 * (Math.max(...values) - Math.min(...values)) &&
      metric.floor <= Math.max(...values) + 0.5 * (Math.max(...values) - Math.min(...values));
    if (floorShown) values.push(metric.floor);
    let lo = values.length ? Math.min(...values) : 0, hi = values.length ? Math.max(...values) : 1;
    const nonNegative = lo >= 0;
    if (hi - lo < 1e-12) { const d = Math.max(Math.abs(lo) * 0.1, 0.5); lo -= d; hi += d; }
    const pad = 0.05 * (hi - lo); lo -= pad; hi += pad;
    if (nonNegative && lo < 0) lo = 0;  // shares, counts and distances: no negative axis
    const x = (t) => L + (generations > 1 ? t / (generations - 1) : 0.5) * (W - L - R);
    const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
    const root = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img" });
    const clipId = "clip-" + (++chartCount);
    root.append(svg("clipPath", { id: clipId }, svg("rect", { x: L, y: T, width: W - L - R, height: H - T - B })));
    root.append(svg("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "#fafbfd", stroke: "#d9dde5" }));
    for (let i = 0; i <= 4; i++) {
      const v = lo + (i / 4) * (hi - lo);
      root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#eceff4" }));
      root.append(svg("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end" }, fmt(v, 3)));
    }
    for (let t = 0; t < generations; t++) {
      root.append(svg("text", { x: x(t), y: H - 10, "text-anchor": "middle" }, String(t)));
    }
    root.append(svg("text", { x: (L + W - R) / 2, y: H - 1, "text-anchor": "middle" }, "generation"));
    if (floorShown) {
      root.append(svg("line", { x1: L, x2: W - R, y1: y(metric.floor), y2: y(metric.floor), stroke: "#888", "stroke-dasharray": "3,3" },
        svg("title", {}, "floor (held-out real): " + fmt(metric.floor))));
    }
    for (const e of entries) {
      const pts = (e.curves[metric.key] || []).map((p, t) => [t, p]).filter(([, p]) => p && p[0] !== null);
      if (!pts.length) continue;
      const band = pts.filter(([, p]) => p[1] !== null);
      if (band.length === pts.length && band.length > 1) {
        const upper = band.map(([t, p]) => x(t) + "," + y(p[2]));
        const lower = band.slice().reverse().map(([t, p]) => x(t) + "," + y(p[1]));
        root.append(svg("polygon", { points: upper.concat(lower).join(" "), fill: e.style.color, opacity: 0.1,
          "clip-path": "url(#" + clipId + ")" }));
      }
      root.append(svg("polyline", { points: pts.map(([t, p]) => x(t) + "," + y(p[0])).join(" "), fill: "none",
        stroke: e.style.color, "stroke-width": 2, "stroke-dasharray": e.style.dash, "data-entry": e.id }));
      for (const [t, p] of pts) {
        const ci = p[1] !== null ? " [" + fmt(p[1]) + ", " + fmt(p[2]) + "]" : "";
        root.append(svg("circle", { cx: x(t), cy: y(p[0]), r: 2.6, fill: e.style.color },
          svg("title", {}, e.label + " · gen " + t + ": " + fmt(p[0]) + ci + " (n=" + p[3] + ")")));
      }
    }
    const floorNote = metric.floor !== null && !floorShown ? " · floor " + fmt(metric.floor) : "";
    return el("div", { class: "chart", title: metric.definition },
      el("div", { class: "title" }, metric.title + arrow(metric.higher), el("span", { class: "muted" }, floorNote)), root);
  }

  function critical(track) {
    const box = el("div", { class: "critical" });
    if (!track.critical.length) return box;
    box.append(el("h3", {}, "Critical real fraction λ*"));
    for (const c of track.critical) {
      box.append(el("p", {}, el("b", {}, c.family + ": "), c.sentence));
      const rows = c.grid.map((p) => el("tr", {},
        el("td", {}, "λ = " + p.lambda), el("td", {}, p.loop), el("td", {}, "seeds " + p.seeds.join(", ")),
        el("td", { class: p.passes === true ? "pass" : p.passes === false ? "fail" : "undecided" },
          p.passes === true ? "passes" : p.passes === false ? "fails" : "undecided"),
        el("td", { class: "muted" }, p.reason)));
      box.append(el("table", {}, el("tbody", {}, ...rows)));
      for (const n of c.notes) box.append(el("p", { class: "muted" }, "note: " + n));
    }
    return box;
  }

  const board = document.getElementById("board");
  const nEntries = DATA.tracks.reduce((s, t) => s + t.entries.length, 0);
  // the published board (bench.analysis.board_page): its title, where its numbers come from, what was not run
  const page = DATA.page;
  if (page) {
    document.title = page.title;
    document.querySelector("header h1").textContent = page.title;
    for (const line of page.lines) document.querySelector("header").append(el("p", { class: "muted" }, line));
  }
  document.getElementById("intro").append(
    DATA.n_files + " runs, " + nEntries + " entries, " + DATA.tracks.length + " track(s); ranked within each track by ",
    el("b", {}, DATA.rank_title + arrow(DATA.rank_higher)), ". " + DATA.interval_text + " Click a column to sort.");
  for (const track of DATA.tracks) {
    const section = el("section", { id: "track-" + track.id });
    section.append(el("h2", {}, track.label));
    if (track.note) section.append(el("p", { class: "muted" }, track.note));
    const entries = track.entries.map((e, i) => Object.assign({ style: styleOf(i) }, e));
    const ranked = entries.filter((e) => !e.not_ranked), apart = entries.filter((e) => e.not_ranked);
    if (ranked.length) section.append(table(track, ranked, false));
    if (apart.length) {
      section.append(el("h3", {}, "Not ranked"),
        el("p", { class: "muted" }, "Entries with a run whose generation 0 diverged or failed the health gate: " +
          "their scores measure a failed training, not collapse, and are never ranked with the others."),
        table(track, apart, true));
    }
    const charts = el("div", { class: "charts" });
    for (const m of track.curve_metrics) charts.append(chart(m, entries, track.generations));
    section.append(critical(track), charts);  // λ* right under its table, before the curves
    board.append(section);
  }
  if (page) {
    const section = el("section", { id: "not-run" }, el("h2", {}, "Not run"));
    if (!page.not_run.length) section.append(el("p", {}, "Every entry has all its seeds."));
    else {
      section.append(el("p", { class: "muted" }, "Entries without a finished run for every seed of the protocol; " +
        "each command runs the missing seeds."));
      const rows = page.not_run.map((r) => el("tr", {}, el("td", {}, r.model), el("td", {}, r.mitigation),
        el("td", {}, r.seeds), el("td", {}, el("code", {}, r.command))));
      section.append(el("table", { class: "not-run" },
        el("thead", {}, el("tr", {}, ...["model", "mitigation", "seeds finished", "command"].map((t) => el("th", {}, t)))),
        el("tbody", {}, ...rows)));
    }
    board.append(section);
  }
  const defs = el("dl");
  for (const [k, v] of Object.entries(DATA.definitions)) defs.append(el("dt", {}, k.includes(".") ? k : "<metric>." + k), el("dd", {}, v));
  document.getElementById("definitions").append(el("h3", {}, "Definitions"), defs);
  document.body.setAttribute("data-rendered", "true");
})();
