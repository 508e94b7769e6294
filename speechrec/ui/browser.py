"""The browser's side of a session: cookies that outlive a reload, and what the browser says about
its microphone. One invisible component (st.components.v2, JavaScript in the page) does both.

Streamlit reads cookies (``st.context.cookies``, as sent when the page connected) but cannot set
them, so the cookies this session wants are kept in session state and the component writes them
with ``document.cookie`` whenever they change. They are read back at the next page load, i.e.
after a reload, a reopened tab or a new visit from the same browser.
"""

from __future__ import annotations

import streamlit as st

from speechrec.microphone import BrowserReport
from speechrec.ui import state

_JS = """
let lastReport = null;

export default function (component) {
  const { data, setStateValue } = component;
  const attributes = "; Path=/; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
  for (const [name, cookie] of Object.entries((data && data.cookies) || {})) {
    document.cookie = cookie === null
      ? name + "=" + attributes + "; Max-Age=0"
      : name + "=" + encodeURIComponent(cookie.value) + attributes + "; Max-Age=" + cookie.max_age_s;
  }
  const report = {
    secure: window.isSecureContext,
    microphone_api: !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia),
    permission: null,
  };
  // Only a problem is reported (and its end, once reported): a report reruns the script, and one
  // sent while the page is still loading can rerun it on the default page instead of this one.
  const send = () => {
    const text = JSON.stringify(report);
    const problem = !report.secure || !report.microphone_api || report.permission === "denied";
    if (text !== lastReport && (problem || lastReport !== null)) {
      lastReport = text;
      setStateValue("report", { ...report });
    }
  };
  if (navigator.permissions && navigator.permissions.query) {
    navigator.permissions.query({ name: "microphone" }).then(
      (status) => {
        report.permission = status.state;
        status.onchange = () => { report.permission = status.state; send(); };
        send();
      },
      () => send(),  // a browser that cannot tell (older Firefox, Safari)
    );
  } else {
    send();
  }
}
"""
_component = st.components.v2.component("speechrec_browser", js=_JS)


def browser_ui() -> BrowserReport | None:
    """Write this session's cookies in the browser and return what it said about its microphone:
    None until it reported a problem (a browser with nothing to report never reruns the page).

    Render it on every run (it draws nothing).
    """
    result = _component(
        key="speechrec_browser",
        data={"cookies": st.session_state[state.COOKIES]},
        on_report_change=lambda: None,
        height=0,
    )
    return BrowserReport.from_value(getattr(result, "report", None))


def cookie(name: str) -> str | None:
    """A cookie as this session last set it, else as the browser sent it when the page loaded."""
    wanted = st.session_state[state.COOKIES]
    if name in wanted:
        return None if wanted[name] is None else wanted[name]["value"]
    return st.context.cookies.get(name)


def set_cookie(name: str, value: str, max_age_s: int) -> None:
    """Keep ``value`` in the browser for ``max_age_s`` seconds (written by the next ``browser_ui``).

    Values are short plain strings (codes, tokens); they are URL-encoded in the cookie.
    """
    st.session_state[state.COOKIES] = {
        **st.session_state[state.COOKIES],
        name: {"value": value, "max_age_s": max_age_s},
    }


def delete_cookie(name: str) -> None:
    """Remove a cookie from the browser (at the next ``browser_ui``)."""
    st.session_state[state.COOKIES] = {**st.session_state[state.COOKIES], name: None}
