// A very small component helper: enough for one page, small enough to read.
//
//   h(tag, props, ...children)  builds a DOM element. Props starting with
//                               "on" become event listeners; others are set
//                               as element properties (value, id, type...).
//   mount(root, state, view)    renders view(state, setState) into root, and
//                               renders again after every setState(changes).
//
// Rendering rebuilds the elements from scratch, which is simple and fast
// enough here; the element that had the keyboard focus (found again by its
// id) gets the focus and caret back, so typing is never interrupted.

export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name.startsWith('on')) {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else {
      element[name] = value;
    }
  }
  // Components may return null (render nothing) or arrays of children.
  element.append(...children.flat().filter((child) => child != null));
  return element;
}

export function mount(root, initialState, view) {
  let state = initialState;

  function setState(changes) {
    state = {...state, ...changes};
    render();
  }

  function render() {
    const focused = root.contains(document.activeElement) ? document.activeElement : null;
    const caret = focused && saveCaret(focused);
    root.replaceChildren(view(state, setState));
    const again = focused && focused.id && document.getElementById(focused.id);
    if (again) {
      again.focus();
      restoreCaret(again, caret);
    }
  }

  render();
  return {setState, getState: () => state};
}

function saveCaret(element) {
  try {
    return [element.selectionStart, element.selectionEnd];
  } catch {
    return null;  // Buttons and some input types have no caret.
  }
}

function restoreCaret(element, caret) {
  if (caret && caret[0] != null) {
    try {
      element.setSelectionRange(caret[0], caret[1]);
    } catch {
      // Not a text field: focus alone is all we can restore.
    }
  }
}
