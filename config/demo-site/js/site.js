// ghala demo site: shows how this response reached the browser. No dependencies, no external
// requests; the page works without it.
(function () {
  'use strict';

  // Headers worth showing, in this order, when ghala (or the origin behind it) sends them.
  var INTERESTING = ['cache-status', 'age', 'cache-control', 'etag', 'last-modified',
    'content-type', 'content-length', 'content-encoding', 'vary', 'server', 'via',
    'x-request-id', 'date'];

  function formatMs(ms) {
    if (!(ms >= 0)) return 'n/a';
    return ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(2) + ' s';
  }

  function formatBytes(n) {
    if (!(n >= 0)) return 'n/a';
    if (n < 1024) return n + ' B';
    return (n / 1024).toFixed(1) + ' KB';
  }

  function set(name, text) {
    var el = document.querySelector('[data-metric="' + name + '"]');
    if (el) el.textContent = text;
  }

  function showTiming() {
    if (!document.getElementById('timing') || !window.performance) return;
    var nav = performance.getEntriesByType && performance.getEntriesByType('navigation')[0];
    if (!nav) return;
    set('ttfb', formatMs(nav.responseStart - nav.requestStart));
    set('load', formatMs((nav.loadEventEnd || performance.now()) - nav.startTime));
    // transferSize is 0 when the page came from the browser's own cache.
    set('transfer', nav.transferSize === 0 ? 'from browser cache' : formatBytes(nav.transferSize));
    set('protocol', nav.nextHopProtocol || 'n/a');
    var conn = navigator.connection;
    set('network', conn && conn.effectiveType ? conn.effectiveType.toUpperCase() +
      (conn.rtt ? ', ~' + conn.rtt + ' ms RTT' : '') : 'not reported');
  }

  function showHeaders() {
    var table = document.getElementById('headers');
    if (!table || !window.fetch) return;
    var body = table.tBodies[0];
    // A HEAD request for this page: same headers as the page itself, no body on the wire.
    fetch(location.pathname, { method: 'HEAD', cache: 'no-store' }).then(function (res) {
      body.textContent = '';
      INTERESTING.forEach(function (name) {
        var value = res.headers.get(name);
        if (value === null) return;
        var row = body.insertRow();
        row.insertCell().textContent = name;
        row.insertCell().textContent = value;
      });
      if (!body.rows.length) {
        body.insertRow().insertCell().textContent = 'No cache-related headers in the response.';
      }
    }).catch(function (err) {
      body.textContent = '';
      body.insertRow().insertCell().textContent = 'Could not fetch headers: ' + err.message;
    });
  }

  // Gallery: show each full-size photo's weight next to its caption (HEAD, Content-Length), so a
  // reader on a metered link knows what a tap costs.
  function showSizes() {
    if (!window.fetch) return;
    var spans = document.querySelectorAll('[data-size-of]');
    Array.prototype.forEach.call(spans, function (span) {
      fetch(span.getAttribute('data-size-of'), { method: 'HEAD' }).then(function (res) {
        var n = parseInt(res.headers.get('content-length'), 10);
        if (res.ok && n >= 0) span.textContent = '(full size: ' + formatBytes(n) + ')';
      }).catch(function () { /* the caption stays as it is */ });
    });
  }

  window.addEventListener('load', function () {
    // loadEventEnd is set only after the load handlers return.
    setTimeout(showTiming, 0);
    showHeaders();
    showSizes();
  });
})();
