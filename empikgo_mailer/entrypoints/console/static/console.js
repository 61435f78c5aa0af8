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

// A button or form marked data-confirm asks before its form is sent (a refusal, a code,
// closing a message); without JavaScript the form is sent as it is. The page's focus goes
// to the element the server marked data-focus (the next entry after an action).
(function () {
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = (button && button.getAttribute("data-confirm")) ||
      event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
  var marked = document.querySelector("[data-focus]");
  if (marked && document.activeElement !== marked) { marked.focus(); }
})();
