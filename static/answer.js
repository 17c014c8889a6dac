// Focus the answer to the last POST (a saved, refused or please-confirm message marked
// data-answer), so keyboard and screen reader users land on it; the anchor in the URL or the
// form's action has already scrolled it into view. After "load": the browser's own scroll to
// the anchor comes after the page is parsed and would take the focus away again. Without
// JavaScript, autofocus does this where the URL has no anchor.
(function () {
  function focusAnswer() {
    const answer = document.querySelector("[data-answer]");
    if (answer && document.activeElement !== answer) answer.focus();
  }
  if (document.readyState === "complete") {
    setTimeout(focusAnswer, 0);
  } else {
    window.addEventListener("load", function () { setTimeout(focusAnswer, 0); });
  }
})();
