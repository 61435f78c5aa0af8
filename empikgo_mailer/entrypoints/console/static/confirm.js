// A button marked data-confirm asks its question before its form is sent: money recorded
// or a reply sent cannot be taken back. Without JavaScript the form is sent at once.
(function () {
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
})();
