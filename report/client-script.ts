// The script of the report page: the feature tree as a zoomable sunburst in SVG. Plain ES2017
// with no library, inlined into the page so it works offline and from a file:// URL. It reads
// the tree from the page's JSON data block (id "treesynth-data") and draws into #sunburst.
//
// Layout: a node's ring segment splits its parent's angle among the siblings in proportion to
// frequency (node frequency counts files mentioning it or anything below, so children need not
// add up to their parent; proportions within the parent are what the picture can show).
// Clicking a segment zooms into it; clicking the centre goes back up one level.
//
// Kept as a string: the page needs the source text, and the project's TypeScript has no DOM
// types to check it against. Do not use backquotes or "${" in it.
export const SUNBURST_SCRIPT = `
(function () {
  'use strict';
  var SVG = 'http://www.w3.org/2000/svg';
  var RINGS = 4;
  var R = 300;
  var MIN_ANGLE = 0.004;
  var dataEl = document.getElementById('treesynth-data');
  var host = document.getElementById('sunburst');
  if (!dataEl || !host) return;
  var data = JSON.parse(dataEl.textContent || '{}');
  var root = data.tree;
  if (!root) return;
  var tip = document.getElementById('tree-tip');
  var crumbs = document.getElementById('tree-crumbs');
  var legend = document.getElementById('tree-legend');
  var nodes = [];
  var maxS = 0, maxT = 0;

  function layout(node, x0, x1, depth, parent) {
    node.x0 = x0; node.x1 = x1; node.depth = depth; node.parent = parent;
    node.i = nodes.length; nodes.push(node);
    if (node.s > maxS) maxS = node.s;
    if (node.t > maxT) maxT = node.t;
    var kids = node.c || [];
    var total = 0;
    for (var k = 0; k < kids.length; k++) total += Math.max(0, kids[k].f);
    var x = x0;
    for (var j = 0; j < kids.length; j++) {
      var w = total > 0 ? (x1 - x0) * Math.max(0, kids[j].f) / total : (x1 - x0) / kids.length;
      layout(kids[j], x, x + w, depth + 1, node);
      x += w;
    }
  }
  layout(root, 0, 1, 0, null);
  // Depth-1 nodes that are not feature nodes (one tree per language) get no coverage colour.
  var mode = 'origin';
  var focus = root;

  function pathOf(node) {
    var out = [];
    for (var n = node; n; n = n.parent) out.unshift(n.l);
    return out;
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function shade(count, max) {
    // Log scale: the first sample matters more than the hundredth.
    var t = max > 0 ? Math.log(1 + count) / Math.log(1 + max) : 0;
    return 'hsl(152, 58%, ' + Math.round(78 - 44 * t) + '%)';
  }
  function colour(node) {
    var rel = Math.min(5, Math.max(0, node.depth - 1));
    if (mode === 'origin') {
      if (node.o === 'r') return '#9aa3b2';
      if (node.o === 'e') return 'hsl(27, 88%, ' + (48 + rel * 7) + '%)';
      return 'hsl(213, 62%, ' + (36 + rel * 9) + '%)';
    }
    if (node.o === 'r') return '#9aa3b2';
    var count = mode === 'samples' ? node.s : node.t;
    var max = mode === 'samples' ? maxS : maxT;
    return count > 0 ? shade(count, max) : '#e4e6eb';
  }
  // Dark text on light fills, white on dark ones.
  function lightFill(fill) {
    if (fill.charAt(0) === '#') return fill === '#e4e6eb';
    var m = /([0-9]+)%[)]$/.exec(fill);
    return m ? Number(m[1]) >= 60 : false;
  }
  function arc(a0, a1, r0, r1) {
    if (a1 - a0 >= 2 * Math.PI - 1e-6) {
      // A full ring: two half arcs, since one arc cannot start and end at the same point.
      return arc(a0, a0 + Math.PI, r0, r1) + arc(a0 + Math.PI, a1, r0, r1);
    }
    var large = a1 - a0 > Math.PI ? 1 : 0;
    function pt(a, r) { return (r * Math.sin(a)).toFixed(2) + ' ' + (-r * Math.cos(a)).toFixed(2); }
    return 'M' + pt(a0, r1) + 'A' + r1 + ' ' + r1 + ' 0 ' + large + ' 1 ' + pt(a1, r1) +
      'L' + pt(a1, r0) + 'A' + r0 + ' ' + r0 + ' 0 ' + large + ' 0 ' + pt(a0, r0) + 'Z';
  }
  function el(name, attrs) {
    var e = document.createElementNS(SVG, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  var svg = el('svg', { viewBox: '-310 -310 620 620', role: 'img', 'aria-label': 'Feature tree sunburst', class: 'sunburst-svg' });
  host.appendChild(svg);
  var gArcs = el('g', {});
  var gText = el('g', { 'pointer-events': 'none' });
  svg.appendChild(gArcs);
  svg.appendChild(gText);

  function ringOf(d) { return d.depth - focus.depth; }

  function render() {
    while (gArcs.firstChild) gArcs.removeChild(gArcs.firstChild);
    while (gText.firstChild) gText.removeChild(gText.firstChild);
    var ring = R / (RINGS + 1);
    var span = focus.x1 - focus.x0;
    var centre = el('circle', { r: ring - 2, fill: colour(focus), 'data-i': focus.i, class: 'centre' });
    gArcs.appendChild(centre);
    var drawn = 0;
    for (var i = 0; i < nodes.length; i++) {
      var d = nodes[i];
      var k = ringOf(d);
      if (k < 1 || k > RINGS || d.x0 < focus.x0 || d.x1 > focus.x1 + 1e-12) continue;
      var a0 = (d.x0 - focus.x0) / span * 2 * Math.PI;
      var a1 = (d.x1 - focus.x0) / span * 2 * Math.PI;
      if (a1 - a0 < MIN_ANGLE) continue;
      var r0 = k * ring, r1 = (k + 1) * ring - 1;
      var p = el('path', { d: arc(a0 + 0.0015, a1 - 0.0015, r0, r1), fill: colour(d), 'data-i': d.i, class: 'seg' + (d.c && d.c.length ? ' has-kids' : '') });
      gArcs.appendChild(p);
      drawn++;
      // Labels where the segment is wide enough to hold a few characters.
      var mid = (a0 + a1) / 2, rm = (r0 + r1) / 2;
      if ((a1 - a0) * rm > 13) {
        var chars = Math.floor((ring - 10) / 6.2);
        var label = d.l.length > chars ? d.l.slice(0, Math.max(1, chars - 1)) + '\\u2026' : d.l;
        var deg = mid * 180 / Math.PI - 90;
        var flip = mid > Math.PI;
        var t = el('text', {
          transform: 'rotate(' + deg.toFixed(2) + ') translate(' + rm.toFixed(1) + ',0)' + (flip ? ' rotate(180)' : ''),
          'text-anchor': 'middle', 'dominant-baseline': 'central', class: 'seg-label' + (lightFill(colour(d)) ? ' on-light' : '')
        });
        t.textContent = label;
        gText.appendChild(t);
      }
    }
    var title = el('text', { 'text-anchor': 'middle', 'dominant-baseline': 'central', class: 'centre-label' });
    title.textContent = focus.l.length > 16 ? focus.l.slice(0, 15) + '\\u2026' : focus.l;
    gText.appendChild(title);
    svg.setAttribute('data-segments', String(drawn));
    renderCrumbs();
    renderLegend();
  }

  function renderCrumbs() {
    if (!crumbs) return;
    crumbs.innerHTML = '';
    var chain = [];
    for (var n = focus; n; n = n.parent) chain.unshift(n);
    chain.forEach(function (n, idx) {
      if (idx > 0) crumbs.appendChild(document.createTextNode(' \\u203a '));
      var b = document.createElement('button');
      b.type = 'button';
      b.className = 'crumb';
      b.textContent = n.l;
      b.addEventListener('click', function () { focus = n; render(); });
      crumbs.appendChild(b);
    });
  }

  function swatch(color, text) {
    return '<span class="swatch" style="background:' + color + '"></span>' + esc(text);
  }
  function renderLegend() {
    if (!legend) return;
    if (mode === 'origin') {
      legend.innerHTML = swatch('hsl(213, 62%, 45%)', 'extracted from code') + swatch('hsl(27, 88%, 55%)', 'added by evolution') +
        '<span class="muted">lighter = deeper</span>';
    } else {
      var what = mode === 'samples' ? 'samples' : 'tasks';
      var max = mode === 'samples' ? maxS : maxT;
      legend.innerHTML = swatch('#e4e6eb', 'used by no ' + what.replace(/s$/, '')) + swatch(shade(1, max), '1 ' + what.replace(/s$/, '')) +
        swatch(shade(max, max), max + ' ' + what) + '<span class="muted">log scale</span>';
    }
  }

  function showTip(node, evt) {
    if (!tip) return;
    var origin = node.o === 'e' ? 'evolved' + (node.r != null ? ' (round ' + node.r + ')' : '') : node.o === 'x' ? 'extracted' : 'root';
    var rows = [
      node.depth > 1 ? '<div class="tip-path">' + pathOf(node).slice(1, -1).map(esc).join(' \\u203a ') + '</div>' : '',
      '<div class="tip-label">' + esc(node.l) + '</div>',
      '<table>',
      '<tr><th>frequency</th><td>' + esc(node.f) + '</td></tr>',
      '<tr><th>origin</th><td>' + esc(origin) + '</td></tr>',
      node.s >= 0 ? '<tr><th>samples</th><td>' + esc(node.s) + '</td></tr>' : '',
      node.t >= 0 ? '<tr><th>tasks</th><td>' + esc(node.t) + '</td></tr>' : '',
      '<tr><th>children</th><td>' + (node.c ? node.c.length : 0) + '</td></tr>',
      node.a && node.a.length ? '<tr><th>aliases</th><td>' + node.a.map(esc).join(', ') + '</td></tr>' : '',
      '</table>'
    ];
    tip.innerHTML = rows.join('');
    tip.hidden = false;
    var box = host.getBoundingClientRect();
    var x = evt.clientX - box.left + 14, y = evt.clientY - box.top + 14;
    if (x + 280 > box.width) x = Math.max(0, evt.clientX - box.left - 290);
    // Above the pointer near the bottom of the picture, so it stays over the picture.
    if (y + tip.offsetHeight > box.height) y = Math.max(0, evt.clientY - box.top - tip.offsetHeight - 10);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  function target(evt) {
    var t = evt.target;
    if (!t || !t.getAttribute) return null;
    var i = t.getAttribute('data-i');
    return i === null ? null : nodes[Number(i)];
  }
  svg.addEventListener('mousemove', function (evt) {
    var node = target(evt);
    if (node) showTip(node, evt); else if (tip) tip.hidden = true;
  });
  svg.addEventListener('mouseleave', function () { if (tip) tip.hidden = true; });
  svg.addEventListener('click', function (evt) {
    var node = target(evt);
    if (!node) return;
    if (node === focus) { if (focus.parent) focus = focus.parent; }
    else if (node.c && node.c.length) focus = node;
    else return;
    if (tip) tip.hidden = true;
    render();
  });

  var buttons = document.querySelectorAll('[data-colour-mode]');
  for (var b = 0; b < buttons.length; b++) {
    buttons[b].addEventListener('click', function (evt) {
      mode = evt.currentTarget.getAttribute('data-colour-mode');
      for (var j = 0; j < buttons.length; j++) buttons[j].setAttribute('aria-pressed', String(buttons[j] === evt.currentTarget));
      render();
    });
  }
  render();
})();
`;
