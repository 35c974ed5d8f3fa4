"""Moving through a page with the keyboard alone, as a person who cannot use a mouse does, and
checking that the focus is visible wherever it lands (WCAG 2.4.7, 2.4.11)."""

from __future__ import annotations

from playwright.sync_api import Locator, Page

#: Tab presses to reach an element before the page is judged to be in the way.
MOST_TABS = 60

#: Whether the focused element looks different from when it is not focused: its own outline,
#: shadow, colours, or for a design-system checkbox or radio (an input drawn on its label) the
#: label's drawn box. The design system shows focus with a yellow background and a drop shadow,
#: not always an outline, so the test compares the two looks rather than look for an outline.
_FOCUS_SHOWN = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return false;
  const label = el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`);
  const parts = [[el, null]];
  if (label) parts.push([label, null], [label, '::before'], [label, '::after']);
  const names = ['outline-style', 'outline-width', 'outline-color', 'box-shadow',
    'background-color', 'color', 'filter', 'border-color', 'text-decoration-line'];
  const look = () => parts.map(([e, p]) => {
    const style = getComputedStyle(e, p);
    return names.map((n) => style.getPropertyValue(n)).join('|');
  }).join('/');
  const settle = () => document.getAnimations().forEach((a) => a.finish());
  settle();
  const focusedLook = look();
  el.blur();
  settle();
  const plainLook = look();
  el.focus();
  settle();
  return focusedLook !== plainLook && el === document.activeElement;
}"""


def focus_is_visible(page: Page) -> bool:
    shown: bool = page.evaluate(_FOCUS_SHOWN)
    return shown


def focused(page: Page, target: Locator) -> bool:
    is_it: bool = target.evaluate("el => el === document.activeElement")
    return is_it


def tab_to(page: Page, target: Locator, *, backwards: bool = False) -> int:
    """Presses Tab (Shift+Tab `backwards`) until `target` has the focus, checking at each stop
    that the focus can be seen; the number of presses."""
    key = "Shift+Tab" if backwards else "Tab"
    for presses in range(1, MOST_TABS + 1):
        page.keyboard.press(key)
        if page.evaluate("document.activeElement !== document.body"):
            assert focus_is_visible(page), (
                f"focus not visible on {page.evaluate('document.activeElement.outerHTML')[:200]}"
            )
        if focused(page, target):
            return presses
    raise AssertionError(f"{MOST_TABS} presses of {key} never reached {target}")


def choose_with_arrows(page: Page, select: Locator, value: str) -> None:
    """With the focus on a closed <select>, arrow down (then up) to the option `value`."""
    assert focused(page, select)
    for key in ("ArrowDown", "ArrowUp"):
        for _ in range(40):
            if select.input_value() == value:
                return
            page.keyboard.press(key)
    assert select.input_value() == value
