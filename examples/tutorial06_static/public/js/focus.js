// Put the cursor in the length field as soon as the page is shown.
document.addEventListener('DOMContentLoaded', function () {
  document.querySelector('input[name="length"]').focus();
});
