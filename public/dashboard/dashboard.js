// tollgate dashboard client script (served from /dashboard/assets/, allowed by `script-src 'self'`).
// - Draws every <canvas data-chart="{type, labels, series}"> with Chart.js (window.Chart, the UMD
//   build tollgate serves beside this file). A chart given `hours` (tokens per UTC hour since the
//   period's start) is drawn per local day of the viewer.
// - Writes every <time datetime> in the viewer's time zone (named, as the server writes them) and
//   names that zone in every [data-viewer-zone]: times and charts are in one zone, the viewer's.
// - Every 30 s fetches the same URL (so the applied filters in the query are kept) with
//   `x-tollgate-fragment: 1` and patches the page's data regions ([data-region]) that changed with
//   the server-rendered ones: never a reload, forms are never replaced (what is being typed and
//   filters not yet applied survive), the focus inside a replaced region moves to its counterpart,
//   and all escaping stays on the server (no client-side templating of caller data). Each applied
//   refresh increments <html data-refreshes> and fires `tollgate:refreshed` on the document.
// The filter form is a plain GET form with an Apply button (no submit-on-change, which would fire on
// every arrow key for keyboard users).
(function () {
  'use strict';
  var REFRESH_MS = 30000;
  var HOUR_MS = 3600000;
  var COLOURS = [
    '#2563eb',
    '#16a34a',
    '#d97706',
    '#dc2626',
    '#7c3aed',
    '#0891b2',
    '#db2777',
    '#65a30d',
    '#475569',
    '#ea580c',
  ];
  var FOCUSABLE = 'a[href], button, input, select, textarea, [tabindex]';
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  // The server's format (src/dashboard/format.ts, TIME_FORMAT, handed over in a <meta>), in the viewer's zone.
  var timeFormat = new Intl.DateTimeFormat('en-US', readTimeFormat());
  var dayLabel = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric' });
  var dayKey = new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit' });
  // Each region's HTML as the server last sent it: a refresh replaces only the regions that changed.
  var served = {};
  var refreshes = 0;

  function readTimeFormat() {
    var meta = document.querySelector('meta[name="tollgate-time-format"]');
    try {
      return JSON.parse(meta.getAttribute('content'));
    } catch (e) {
      return { dateStyle: 'medium', timeStyle: 'short' };
    }
  }

  function localize(root) {
    root.querySelectorAll('time[datetime]').forEach(function (el) {
      var at = new Date(el.getAttribute('datetime'));
      if (isNaN(at.getTime())) return;
      el.textContent = timeFormat.format(at);
      el.title = zone;
    });
    root.querySelectorAll('[data-viewer-zone]').forEach(function (el) {
      el.textContent = zone;
    });
  }

  // Tokens per local day from tokens per UTC hour: every day from the period's start to now, each
  // hour counted in the day it starts in (in zones offset by a half or quarter hour, an hour that
  // straddles midnight counts in the day it starts in).
  function perLocalDay(spec) {
    var sums = {};
    spec.hours.forEach(function (h) {
      var key = dayKey.format(new Date(h[0]));
      sums[key] = (sums[key] || 0) + h[1];
    });
    var end = Date.now();
    var first = spec.hours.length ? Date.parse(spec.hours[0][0]) : end;
    var start = spec.since ? Math.min(Date.parse(spec.since), first) : first;
    var labels = [];
    var data = [];
    var last = '';
    // Steps of 6 hours meet every local day, DST or not; the end is visited last.
    for (var t = start; ; t = Math.min(t + 6 * HOUR_MS, end)) {
      var key = dayKey.format(new Date(t));
      if (key !== last) {
        labels.push(dayLabel.format(new Date(t)));
        data.push(sums[key] || 0);
        last = key;
      }
      if (t >= end) break;
    }
    return { labels: labels, series: [{ label: spec.label, data: data }] };
  }

  function draw(root) {
    if (typeof window.Chart !== 'function') return;
    root.querySelectorAll('canvas[data-chart]').forEach(function (canvas) {
      var spec;
      try {
        spec = JSON.parse(canvas.getAttribute('data-chart'));
      } catch (e) {
        return;
      }
      var shown = spec.hours ? perLocalDay(spec) : spec;
      var round = spec.type === 'doughnut';
      new window.Chart(canvas, {
        type: spec.type,
        data: {
          labels: shown.labels,
          datasets: shown.series.map(function (s, i) {
            return {
              label: s.label,
              data: s.data,
              backgroundColor: round ? COLOURS : COLOURS[i % COLOURS.length],
              borderWidth: round ? 1 : 0,
            };
          }),
        },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          plugins: { legend: { display: round || shown.series.length > 1, position: 'bottom' } },
          scales: round ? {} : { y: { beginAtZero: true } },
        },
      });
    });
  }

  function undraw(root) {
    if (typeof window.Chart !== 'function') return;
    root.querySelectorAll('canvas[data-chart]').forEach(function (canvas) {
      var chart = window.Chart.getChart(canvas);
      if (chart) chart.destroy();
    });
  }

  // Replaces `current` by `next` (a region from a fetched page), keeping the focus at the same place.
  function swap(current, next) {
    var inside = current.querySelectorAll(FOCUSABLE);
    var focused = Array.prototype.indexOf.call(inside, document.activeElement);
    undraw(current);
    var node = document.adoptNode(next);
    current.replaceWith(node);
    localize(node);
    draw(node);
    if (focused >= 0) {
      var again = node.querySelectorAll(FOCUSABLE)[focused];
      if (again) again.focus({ preventScroll: true });
    }
  }

  function patch(html) {
    var page = new DOMParser().parseFromString(html, 'text/html');
    document.querySelectorAll('[data-region]').forEach(function (current) {
      var name = current.getAttribute('data-region');
      var next = page.querySelector('[data-region="' + CSS.escape(name) + '"]');
      if (!next || served[name] === next.outerHTML) return;
      served[name] = next.outerHTML;
      swap(current, next);
    });
    refreshes += 1;
    document.documentElement.setAttribute('data-refreshes', String(refreshes));
    document.dispatchEvent(new CustomEvent('tollgate:refreshed', { detail: { count: refreshes } }));
  }

  var busy = false;
  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(window.location.href, {
      headers: { 'x-tollgate-fragment': '1' },
      credentials: 'same-origin',
      cache: 'no-store',
    })
      .then(function (res) {
        if (res.status === 401) {
          window.location.assign('/dashboard/sign-in');
          return null;
        }
        return res.ok ? res.text() : null;
      })
      .then(function (html) {
        if (html) patch(html);
      })
      .catch(function () {
        /* offline for a moment: the next tick tries again */
      })
      .then(function () {
        busy = false;
      });
  }

  function start() {
    document.querySelectorAll('[data-region]').forEach(function (el) {
      served[el.getAttribute('data-region')] = el.outerHTML;
    });
    localize(document);
    draw(document);
    if (document.getElementById('content') && document.querySelector('[data-updated]'))
      window.setInterval(refresh, REFRESH_MS);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
