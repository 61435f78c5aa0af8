// Reloads a page marked data-refresh (the dashboard) every so many seconds, unless the
// librarian is typing in a form. Without JavaScript the page has a "Odśwież" link.
(function () {
  var seconds = Number(document.body.getAttribute("data-refresh") || 0);
  if (!seconds) { return; }
  setInterval(function () {
    var active = document.activeElement;
    if (active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA")) { return; }
    window.location.reload();
  }, seconds * 1000);
})();
