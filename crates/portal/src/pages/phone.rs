//! `/phone`: the browser phone. A subscriber signs in with his address and SIP password;
//! the page registers over SIP over WebSocket (RFC 7118) at the portal's own `/ws` with
//! JsSIP (vendored in `assets/vendor/`, no build step), places and answers calls with the
//! browser's WebRTC audio, sends DTMF (RFC 4733 through the browser, or SIP INFO) and
//! shows the call's state and the level of the audio it hears. Usable without logging in
//! to the portal (the address field is then empty); a logged-in subscriber finds his
//! address filled in.
//!
//! The page is HTML only; `assets/phone.js` does the work (no inline script: the CSP
//! allows scripts from the portal alone). Its elements carry stable ids (`phone-state`,
//! `call-state`, `media-state`, `remote-level`) that the browser test reads.

use axum::response::{Html, IntoResponse, Response};

use super::{esc, layout, MaybeCaller};

/// The browser phone page.
pub async fn show(MaybeCaller(caller): MaybeCaller) -> Response {
    let address = caller
        .as_ref()
        .and_then(|c| c.address.as_ref())
        .map(ToString::to_string)
        .unwrap_or_default();
    let body = format!(
        r#"<div class="phone"><h1>Browser phone</h1>
<noscript><p class="banner error">The browser phone needs JavaScript; the rest of the portal does not.</p></noscript>
<section class="card narrow" id="phone-signin">
<h2>Sign in</h2>
<form id="phone-login">
<div class="field"><label for="phone-address">Your address</label><input id="phone-address" name="address" type="text" autocomplete="username" placeholder="alice@example.com" value="{address}" required><p class="hint">Your SIP address, as on your desk phone.</p></div>
<div class="field"><label for="phone-password">SIP password</label><input id="phone-password" name="password" type="password" autocomplete="current-password" required><p class="hint">The password of your phones (not the web password), set on the Settings page.</p></div>
<details><summary>Server</summary><div class="field"><label for="phone-server">WebSocket address</label><input id="phone-server" name="server" type="text" value=""><p class="hint">Empty: this portal's own, <code>/ws</code>.</p></div></details>
<button type="submit" class="primary" id="phone-register">Sign in</button>
</form>
</section>
<section class="card narrow" id="phone-main" hidden>
<p class="phone-line"><span id="phone-state" data-state="unregistered">Not signed in</span> <button type="button" class="link" id="phone-logout">Sign out</button></p>
<form id="phone-dial">
<div class="field"><label for="phone-target">Call</label><input id="phone-target" name="target" type="text" inputmode="tel" placeholder="bob, +4930123456 or sip:bob@example.com" required></div>
<button type="submit" class="primary" id="phone-call">Call</button>
</form>
<div id="phone-call-panel" hidden>
<p class="phone-line">Call: <strong id="call-state" data-state="idle">idle</strong> <span id="call-peer"></span> <span id="call-timer"></span></p>
<p class="phone-line">Audio path: <span id="media-state" data-state="new">new</span></p>
<p class="phone-line">Hearing: <meter id="remote-level" min="0" max="1" value="0" data-peak-hz="0">silence</meter></p>
<div class="phone-actions"><button type="button" class="primary" id="phone-answer" hidden>Answer</button><button type="button" class="danger" id="phone-hangup">Hang up</button></div>
<div class="keypad" id="phone-keypad" aria-label="Keypad">{keys}</div>
</div>
<p class="error" id="phone-error" role="alert" hidden></p>
<audio id="phone-audio" autoplay></audio>
</section>
</div>
<script src="/assets/vendor/jssip.min.js"></script>
<script src="/assets/phone.js"></script>"#,
        address = esc(&address),
        keys = "123456789*0#"
            .chars()
            .map(|k| format!(r#"<button type="button" data-key="{k}">{k}</button>"#))
            .collect::<String>(),
    );
    Html(layout("Phone", caller.as_ref(), &body)).into_response()
}
