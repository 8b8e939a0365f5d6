// Draws each section's timeline on its canvas from the page's data (see
// src/encode.rs): every span while they fit, else each track's occupancy
// per pixel; zoom (wheel, buttons), pan (drag), reset (double-click), and a
// tooltip per span. Counts what it drew in data-* attributes, for checks.
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('data').textContent);
  const LABEL = 150, ROW = 22, BAR = 18, TOP = 24, RIGHT = 10;
  const tip = document.getElementById('tip');

  function decode(b64, n) {
    const s = atob(b64);
    const ts = new Float64Array(n), dur = new Float64Array(n);
    const code = new Uint32Array(n), det = new Uint32Array(n);
    let p = 0, t = 0, maxDur = 0;
    const next = () => {
      let v = 0, mul = 1, b;
      do { b = s.charCodeAt(p++); v += (b & 127) * mul; mul *= 128; } while (b & 128);
      return v;
    };
    for (let i = 0; i < n; i++) {
      t += next(); ts[i] = t; dur[i] = next(); code[i] = next(); det[i] = next();
      if (dur[i] > maxDur) maxDur = dur[i];
    }
    return { ts, dur, code, det, n, maxDur };
  }

  // The first index whose start is at least `t`.
  function lowerBound(a, n, t) {
    let lo = 0, hi = n;
    while (lo < hi) { const m = (lo + hi) >> 1; if (a[m] < t) lo = m + 1; else hi = m; }
    return lo;
  }

  function hatch(ctx, stroke, fill) {
    const c = document.createElement('canvas');
    c.width = c.height = 6;
    const g = c.getContext('2d');
    if (fill) { g.fillStyle = fill; g.fillRect(0, 0, 6, 6); }
    g.strokeStyle = stroke; g.lineWidth = 2;
    g.beginPath(); g.moveTo(-1, 7); g.lineTo(7, -1); g.moveTo(5, 7); g.lineTo(7, 5); g.moveTo(-1, 1); g.lineTo(1, -1); g.stroke();
    return ctx.createPattern(c, 'repeat');
  }

  function niceStep(range, target) {
    const raw = range / target, p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p;
    return 10 * p;
  }

  function fmtUs(us) {
    const a = Math.abs(us);
    if (a === 0) return '0';
    if (a >= 1e6) return (us / 1e6).toPrecision(4) + ' s';
    if (a >= 1e3) return (us / 1e3).toPrecision(4) + ' ms';
    return us.toPrecision(3) + ' µs';
  }

  // A tick's time, with as many decimals as the step between ticks needs.
  function fmtTick(us, step) {
    if (us === 0) return '0';
    const [div, unit] = step >= 1e5 ? [1e6, ' s'] : step >= 100 ? [1e3, ' ms'] : [1, ' µs'];
    const decimals = Math.max(0, Math.ceil(-Math.log10(step / div) - 1e-9));
    return (us / div).toFixed(Math.min(decimals, 9)) + unit;
  }

  const q = data.q, funcs = data.funcs, details = data.details;
  let totalDrawn = 0, totalFailed = 0, totalShown = 0;
  const views = [];

  document.querySelectorAll('canvas.timeline').forEach(function (canvas) {
    const sec = data.sections[+canvas.dataset.section];
    const rows = sec.rows.map((_, r) => decode(sec.data[r], sec.counts[r]));
    const span = Math.max(sec.span / q, 1);
    const dpr = window.devicePixelRatio || 1;
    const W = canvas.width, H = canvas.height;
    canvas.width = W * dpr; canvas.height = H * dpr;
    const ctx = canvas.getContext('2d');
    ctx.scale(dpr, dpr);
    const failedFill = hatch(ctx, '#d00', null), cancelledFill = hatch(ctx, '#888', '#e4e4e4');
    const plotW = W - LABEL - RIGHT;
    const view = { v0: 0, v1: span, canvas, rows, sec, modes: [] };
    const mode = canvas.parentElement.querySelector('.mode');

    function draw() {
      const { v0, v1 } = view, scale = plotW / (v1 - v0);
      ctx.clearRect(0, 0, W, H);
      ctx.font = '11px system-ui, sans-serif';
      ctx.textBaseline = 'alphabetic';
      const step = niceStep((v1 - v0) * q, 8) / q;
      ctx.fillStyle = '#444'; ctx.strokeStyle = '#eee'; ctx.lineWidth = 1;
      ctx.textAlign = 'center';
      for (let t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
        const x = LABEL + (t - v0) * scale;
        ctx.beginPath(); ctx.moveTo(x, 18); ctx.lineTo(x, H); ctx.stroke();
        ctx.fillText(fmtTick(t * q, step * q), x, 12);
      }
      ctx.textAlign = 'left';
      let drawn = 0, failed = 0, aggregated = 0;
      view.modes = [];
      rows.forEach(function (row, r) {
        const y = TOP + r * ROW;
        ctx.save();
        ctx.beginPath(); ctx.rect(LABEL, y - 2, plotW, ROW); ctx.clip();
        const lo = lowerBound(row.ts, row.n, v0 - row.maxDur), hi = lowerBound(row.ts, row.n, v1 + 1e-9);
        let visible = 0;
        for (let i = lo; i < hi; i++) if (row.ts[i] + row.dur[i] >= v0) visible++;
        if (visible > 2 * plotW) {
          view.modes[r] = 'occupancy';
          aggregated += visible;
          const bins = Math.ceil(plotW), K = Math.min(funcs.length, 32);
          const busy = new Float64Array(bins), byFunc = new Float64Array(bins * K), bad = new Uint8Array(bins);
          const binT = (v1 - v0) / bins;
          for (let i = lo; i < hi; i++) {
            const a = row.ts[i], b = a + row.dur[i];
            if (b < v0) continue;
            const f = Math.min(Math.floor(row.code[i] / 8), K - 1), st = (row.code[i] >> 1) & 3;
            let ba = Math.max(0, Math.floor((a - v0) / binT)), bb = Math.min(bins - 1, Math.floor((b - v0) / binT));
            if (st) { bad[ba] = st; failed++; }
            for (let k = ba; k <= bb; k++) {
              const s0 = Math.max(a, v0 + k * binT), s1 = Math.min(b, v0 + (k + 1) * binT);
              const w = Math.max(s1 - s0, 0);
              busy[k] += w; byFunc[k * K + f] += w;
            }
            drawn++;
          }
          for (let k = 0; k < bins; k++) {
            if (busy[k] <= 0) continue;
            let best = 0;
            for (let f = 1; f < K; f++) if (byFunc[k * K + f] > byFunc[k * K + best]) best = f;
            const occ = Math.min(1, busy[k] / binT), h = Math.max(1, occ * BAR);
            ctx.fillStyle = funcs[best][2];
            ctx.fillRect(LABEL + k, y + BAR - h, 1, h);
          }
          for (let k = 0; k < bins; k++) {
            if (!bad[k]) continue;
            ctx.fillStyle = bad[k] === 1 ? '#d00' : '#666';
            ctx.beginPath(); ctx.moveTo(LABEL + k - 4, y - 1); ctx.lineTo(LABEL + k + 4, y - 1); ctx.lineTo(LABEL + k, y + 6); ctx.fill();
          }
        } else {
          view.modes[r] = 'spans';
          for (let i = lo; i < hi; i++) {
            const a = row.ts[i], d = row.dur[i];
            if (a + d < v0) continue;
            const c = row.code[i], st = (c >> 1) & 3, crit = c & 1;
            const w = Math.max(d * scale, st === 2 ? 5 : 1);
            // A mark of no length at the right edge stays in view.
            const x = Math.min(LABEL + (a - v0) * scale, LABEL + plotW - w);
            ctx.fillStyle = funcs[Math.floor(c / 8)][2];
            // A pixel of gap between spans wide enough to spare it.
            ctx.fillRect(x, y, w > 4 ? w - 1 : w, BAR);
            if (st === 1) {
              ctx.fillStyle = failedFill; ctx.fillRect(x, y, w, BAR);
              ctx.strokeStyle = '#d00'; ctx.lineWidth = 2; ctx.setLineDash([]); ctx.strokeRect(x, y, w, BAR);
              failed++;
            } else if (st === 2) {
              ctx.fillStyle = cancelledFill; ctx.fillRect(x, y, w, BAR);
              ctx.strokeStyle = '#555'; ctx.lineWidth = 1; ctx.setLineDash([3, 2]); ctx.strokeRect(x, y, w, BAR);
              ctx.setLineDash([]);
              failed++;
            } else if (crit) {
              ctx.strokeStyle = '#111'; ctx.lineWidth = 2.5; ctx.strokeRect(x + 1, y + 1, w - 2, BAR - 2);
            }
            drawn++;
          }
        }
        ctx.restore();
        ctx.fillStyle = '#222';
        ctx.fillText(sec.rows[r], 4, y + 14);
      });
      view.drawn = drawn; view.failed = failed;
      canvas.dataset.drawn = drawn;
      canvas.dataset.failed = failed;
      canvas.dataset.mode = aggregated ? 'occupancy' : 'spans';
      mode.textContent = (aggregated ? 'occupancy of ' + aggregated + ' spans (zoom in to see them); ' : '') +
        'showing ' + fmtUs((v1 - v0) * q) + ' of ' + fmtUs(span * q);
    }
    view.draw = draw;

    function zoom(factor, at) {
      const w = Math.min(span, Math.max(10, (view.v1 - view.v0) * factor));
      let v0 = at - (at - view.v0) * w / (view.v1 - view.v0);
      v0 = Math.min(Math.max(0, v0), span - w);
      view.v0 = v0; view.v1 = v0 + w; draw();
    }
    view.zoom = zoom;
    const timeAt = x => view.v0 + (x - LABEL) / plotW * (view.v1 - view.v0);
    canvas.addEventListener('wheel', function (ev) {
      ev.preventDefault();
      zoom(Math.exp(ev.deltaY * 0.002), timeAt(ev.offsetX));
    }, { passive: false });
    let drag = null;
    canvas.addEventListener('mousedown', ev => { drag = { x: ev.clientX, v0: view.v0, v1: view.v1 }; });
    window.addEventListener('mouseup', () => { drag = null; });
    canvas.addEventListener('dblclick', () => { view.v0 = 0; view.v1 = span; draw(); });
    canvas.parentElement.querySelectorAll('button[data-zoom]').forEach(b => b.addEventListener('click', function () {
      const mid = (view.v0 + view.v1) / 2;
      if (b.dataset.zoom === 'in') zoom(0.5, mid);
      else if (b.dataset.zoom === 'out') zoom(2, mid);
      else { view.v0 = 0; view.v1 = span; draw(); }
    }));
    canvas.addEventListener('mouseleave', () => { tip.hidden = true; });
    canvas.addEventListener('mousemove', function (ev) {
      if (drag) {
        const dt = (ev.clientX - drag.x) / plotW * (drag.v1 - drag.v0);
        const w = drag.v1 - drag.v0;
        view.v0 = Math.min(Math.max(0, drag.v0 - dt), span - w); view.v1 = view.v0 + w;
        draw(); return;
      }
      const r = Math.floor((ev.offsetY - TOP + 2) / ROW), row = rows[r];
      if (!row || ev.offsetX < LABEL) { tip.hidden = true; return; }
      const t = timeAt(ev.offsetX), slack = 3 / plotW * (view.v1 - view.v0);
      let text;
      if (view.modes[r] === 'occupancy') {
        const binT = (view.v1 - view.v0) / plotW;
        const lo = lowerBound(row.ts, row.n, t - row.maxDur), hi = lowerBound(row.ts, row.n, t + binT);
        let n = 0, bad = 0;
        for (let i = lo; i < hi; i++) if (row.ts[i] + row.dur[i] >= t) { n++; if ((row.code[i] >> 1) & 3) bad++; }
        text = sec.rows[r] + '\n' + n + ' spans in this pixel (' + fmtUs(binT * q) + ')' + (bad ? '\n' + bad + ' failed or cancelled' : '') + '\nzoom in to see them one by one';
      } else {
        const lo = lowerBound(row.ts, row.n, t - row.maxDur - slack), hi = lowerBound(row.ts, row.n, t + slack);
        let best = -1;
        for (let i = lo; i < hi; i++) {
          if (row.ts[i] - slack <= t && t <= row.ts[i] + row.dur[i] + slack && (best < 0 || row.dur[i] < row.dur[best])) best = i;
        }
        if (best < 0) { tip.hidden = true; return; }
        const c = row.code[best], f = funcs[Math.floor(c / 8)], st = (c >> 1) & 3, d = row.det[best];
        text = f[0] + ' (' + f[1] + ') ' + fmtUs(row.dur[best] * q) + ', from ' + fmtUs(row.ts[best] * q) + ' in this section';
        if (c & 1) text += '\non the critical path';
        if (st) text += '\n' + (st === 1 ? 'FAILED' : 'CANCELLED') + (d && details[d - 1][1] ? ': ' + details[d - 1][1] : '');
        text += '\n' + (d ? details[d - 1][0] : '(details not kept: the trace is large)');
      }
      tip.textContent = text;
      tip.hidden = false;
      tip.style.left = (ev.clientX + 14) + 'px';
      tip.style.top = (ev.clientY + 14) + 'px';
    });
    draw();
    totalDrawn += view.drawn; totalFailed += view.failed; totalShown += rows.reduce((a, r) => a + r.n, 0);
    views.push(view);
  });

  // A link to one section, zoomed: `#zoom=S,A,B` shows section S (from 1)
  // alone, zoomed to fractions A..B of its time (for sharing a view, and
  // for the screenshots of the documentation).
  const m = /zoom=(\d+),([0-9.]+),([0-9.]+)/.exec(location.hash);
  if (m && views[+m[1] - 1]) {
    const v = views[+m[1] - 1], span = Math.max(v.sec.span / q, 1);
    document.body.classList.add('focus');
    v.canvas.closest('section').classList.add('focused');
    v.v0 = +m[2] * span; v.v1 = Math.max(+m[3] * span, v.v0 + 10); v.draw();
  }
  document.body.dataset.drawn = totalDrawn;
  document.body.dataset.failed = totalFailed;
  document.body.dataset.spans = totalShown;
  document.body.dataset.sections = views.length;
})();
