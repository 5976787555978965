//! The phone simulator (development only): `GET /simulator` serves one small page with a feature
//! phone that dials the USSD menus through the real Africa's Talking endpoint and shows the
//! number's SMS from the development inbox (`/dev/sms/{msisdn}`).
//!
//! The page exists only while SMS go to the development provider AND the database is embedded
//! SQLite: a local development server. Anywhere else it is the same 404 as any unknown route.

use std::sync::Arc;

use actix_web::{get, web, HttpResponse};

use crate::app::App;
use crate::http::error::ApiError;
use crate::secrets::random_token;
use crate::store::Backend;

/// Whether this server is a local development one (the only place the simulator is served).
pub fn enabled(app: &App) -> bool {
    app.config.sms.provider == "development" && app.backend() == Backend::Sqlite
}

#[get("/simulator")]
async fn simulator(app: web::Data<Arc<App>>) -> Result<HttpResponse, ApiError> {
    if !enabled(&app) {
        return Err(ApiError::NotFound("route"));
    }
    let nonce = random_token(24);
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Content-Security-Policy", csp))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "DENY"))
        .body(page(&app, &nonce)))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(simulator);
}

/// The page for this server: demo customers, service code and gateway token filled in.
pub fn page(app: &App, nonce: &str) -> String {
    let service_code = &app.config.ussd.service_code;
    let options: String = crate::demo::CUSTOMERS
        .iter()
        .map(|c| {
            format!(
                "<option value=\"{}\">{} — {} (PIN {})</option>\n",
                html_escape(c.msisdn),
                html_escape(c.name),
                html_escape(c.msisdn),
                html_escape(c.pin)
            )
        })
        .collect();
    // SECURITY: the USSD gateway token is embedded in the page so its script can
    // call the real gateway endpoint. That is acceptable ONLY because `enabled` restricts the
    // page to a local development server (development SMS provider AND embedded SQLite); never
    // serve this page, or anything carrying the token, under any other condition.
    let config = serde_json::json!({
        "token": app.ussd_token.expose(),
        "serviceCode": service_code,
        // Africa's Talking's sandbox network code.
        "networkCode": "99999",
    });
    fill(
        PAGE,
        &[
            ("nonce", nonce),
            ("service_code", &html_escape(service_code)),
            ("options", &options),
            ("config", &script_json(&config)),
        ],
    )
}

/// Text for HTML element content or a quoted attribute value.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON safe inside `<script type="application/json">`: no `<`, `>` or `&` can end the element
/// or start markup (`\u003c` and friends are the same JSON string).
fn script_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Replaces each `{{name}}` in one pass (values are never rescanned); unknown names stay.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let after = from.get(2..).unwrap_or_default();
        let found = after.find("}}").and_then(|end| {
            let name = after.get(..end)?;
            let value = values.iter().find(|(n, _)| *n == name)?.1;
            Some((value, after.get(end + 2..).unwrap_or_default()))
        });
        match found {
            Some((value, remainder)) => {
                out.push_str(value);
                rest = remainder;
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The page: plain HTML, inline CSS and a little vanilla JavaScript, no external assets. The
/// screen and the inbox are written with `textContent` only.
const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>mkoba phone simulator</title>
<style nonce="{{nonce}}">
*{box-sizing:border-box}
body{margin:0;padding:24px;font:15px/1.4 system-ui,sans-serif;background:#eef1f4;color:#1b1f23}
h1{font-size:20px;margin:0 0 4px}
p.lead{margin:0 0 20px;color:#555}
.wrap{display:flex;flex-wrap:wrap;gap:32px;align-items:flex-start}
.controls{margin-bottom:14px;display:flex;flex-direction:column;gap:6px;width:270px}
.controls label{font-size:13px;color:#444}
.controls select,.controls input{font:inherit;padding:6px;border:1px solid #aab;border-radius:6px;width:100%}
.phone{width:270px;padding:26px 20px 28px;border-radius:38px 38px 46px 46px;background:linear-gradient(#3a3f47,#22262c);box-shadow:0 10px 30px rgba(0,0,0,.35),inset 0 2px 3px rgba(255,255,255,.15)}
.speaker{width:60px;height:6px;margin:0 auto 14px;border-radius:3px;background:#111}
.lcd{height:230px;padding:8px 10px;border-radius:8px;border:4px solid #111;background:#b9c9a4;color:#18210f;display:flex;flex-direction:column;font:14px/1.3 "Courier New",monospace}
.bar{display:flex;justify-content:space-between;font-size:11px;border-bottom:1px solid #7f8f6c;padding-bottom:2px;margin-bottom:4px}
#screen{flex:1;overflow-y:auto;white-space:pre-wrap;word-wrap:break-word}
#input{font:inherit;width:100%;padding:2px 4px;border:1px solid #5d6c4c;background:#d4e0c3;color:#18210f;border-radius:2px}
.soft{display:flex;justify-content:space-between;font-size:12px;margin-top:3px}
.keys{margin-top:16px;display:grid;grid-template-columns:repeat(3,1fr);gap:8px}
.keys button{font:600 18px system-ui,sans-serif;height:40px;border:0;border-radius:14px;background:#e6e8eb;color:#1b1f23;cursor:pointer;box-shadow:0 2px 0 #8a9099}
.keys button small{display:block;font-size:8px;font-weight:400;color:#666;letter-spacing:1px}
.keys button:active,.calls button:active{transform:translateY(1px);box-shadow:none}
.calls{margin-top:14px;display:grid;grid-template-columns:1fr 1fr 1fr 1fr;gap:8px}
.calls button{height:34px;border:0;border-radius:14px;font:600 13px system-ui,sans-serif;cursor:pointer;color:#fff;box-shadow:0 2px 0 #0006}
#dial{background:#1f9d45}
#end{background:#d0312d}
#send,#clear{background:#59616d}
button:disabled{opacity:.5;cursor:wait}
.sms{width:360px}
.sms h2{font-size:16px;margin:0 0 8px}
#inbox-note{font-size:13px;color:#666;margin:0 0 8px}
#inbox{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:8px;max-height:560px;overflow-y:auto}
#inbox li{background:#fff;border-radius:10px;padding:8px 10px;box-shadow:0 1px 2px rgba(0,0,0,.15)}
#inbox .meta{font-size:11px;color:#777;margin-bottom:2px}
#inbox .body{white-space:pre-wrap;word-wrap:break-word}
</style>
</head>
<body>
<h1>mkoba phone simulator</h1>
<p class="lead">Development only. Dial <b>{{service_code}}</b> and press the green key; type with the keypad or your keyboard (Enter sends, Esc hangs up).</p>
<div class="wrap">
<div>
<div class="controls">
<label for="demo">Demo customer</label>
<select id="demo">
<option value="">Other number…</option>
{{options}}
</select>
<label for="number">Phone number (any number, e.g. a new one to register)</label>
<input id="number" type="tel" autocomplete="off" spellcheck="false">
</div>
<div class="phone" id="phone">
<div class="speaker"></div>
<div class="lcd">
<div class="bar"><span>mkoba ▂▄▆</span><span id="status">Ready</span></div>
<div id="screen"></div>
<input id="input" type="text" autocomplete="off" spellcheck="false" aria-label="Input">
<div class="soft"><span>Send</span><span>Clear</span></div>
</div>
<div class="calls">
<button id="send" type="button" title="Send (Enter)">Send</button>
<button id="clear" type="button" title="Delete the last character">Clear</button>
<button id="dial" type="button" title="Call / send">Call</button>
<button id="end" type="button" title="End (Esc)">End</button>
</div>
<div class="keys" id="keys">
<button type="button" data-key="1">1<small>&nbsp;</small></button>
<button type="button" data-key="2">2<small>ABC</small></button>
<button type="button" data-key="3">3<small>DEF</small></button>
<button type="button" data-key="4">4<small>GHI</small></button>
<button type="button" data-key="5">5<small>JKL</small></button>
<button type="button" data-key="6">6<small>MNO</small></button>
<button type="button" data-key="7">7<small>PQRS</small></button>
<button type="button" data-key="8">8<small>TUV</small></button>
<button type="button" data-key="9">9<small>WXYZ</small></button>
<button type="button" data-key="*">*<small>&nbsp;</small></button>
<button type="button" data-key="0">0<small>+</small></button>
<button type="button" data-key="#">#<small>&nbsp;</small></button>
</div>
</div>
</div>
<div class="sms">
<h2>SMS inbox</h2>
<p id="inbox-note">Pick or type a number.</p>
<ol id="inbox"></ol>
</div>
</div>
<script type="application/json" id="config">{{config}}</script>
<script nonce="{{nonce}}">
"use strict";
(function () {
  var cfg = JSON.parse(document.getElementById("config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var demo = $("demo"), number = $("number"), screen = $("screen"), input = $("input");
  var statusEl = $("status"), inbox = $("inbox"), note = $("inbox-note");
  var sendBtn = $("send"), dialBtn = $("dial");
  // One USSD session at a time: its id, the number it belongs to and every input so far.
  var session = null, busy = false;

  function show(text, status) {
    screen.textContent = text;
    statusEl.textContent = status;
  }
  function setBusy(b) {
    busy = b;
    sendBtn.disabled = b;
    dialBtn.disabled = b;
  }
  function randomId() {
    var bytes = new Uint8Array(10);
    crypto.getRandomValues(bytes);
    return "ATUid_sim_" + Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
  }
  function idle() {
    session = null;
    input.value = "";
    show("Dial " + cfg.serviceCode + "\nthen press Call.", "Ready");
    input.placeholder = cfg.serviceCode;
  }

  // One hop to the real Africa's Talking endpoint, exactly as the gateway would post it.
  function hop() {
    var s = session;
    var form = new URLSearchParams();
    form.set("sessionId", s.id);
    form.set("serviceCode", cfg.serviceCode);
    form.set("phoneNumber", s.number);
    form.set("networkCode", cfg.networkCode);
    form.set("text", s.path.join("*"));
    setBusy(true);
    statusEl.textContent = "USSD running…";
    return fetch("/ussd/africastalking?token=" + encodeURIComponent(cfg.token), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: form.toString()
    }).then(function (res) {
      return res.text();
    }).then(function (body) {
      if (session !== s) return;
      if (body.indexOf("CON ") === 0) {
        show(body.slice(4), "Session");
      } else {
        session = null;
        show(body.indexOf("END ") === 0 ? body.slice(4) : body, "Ended");
      }
    }).catch(function () {
      if (session === s) {
        session = null;
        show("Connection problem or invalid MMI code.", "Ended");
      }
    }).then(function () {
      setBusy(false);
      input.value = "";
      input.focus();
      refreshInbox();
    });
  }

  function dial() {
    if (busy) return;
    if (session) { send(); return; }
    var code = input.value.trim() || cfg.serviceCode;
    var msisdn = number.value.trim();
    if (!msisdn) { show("Pick or type a phone number first.", "Ready"); return; }
    if (code !== cfg.serviceCode) {
      input.value = "";
      show("Connection problem or invalid MMI code.\n(Try " + cfg.serviceCode + ")", "Ended");
      return;
    }
    input.placeholder = "";
    session = { id: randomId(), number: msisdn, path: [] };
    hop();
  }
  function send() {
    if (busy) return;
    if (!session) { dial(); return; }
    session.path.push(input.value);
    hop();
  }
  function end() {
    var s = session;
    if (s) {
      // What Africa's Talking posts when the subscriber cancels.
      var form = new URLSearchParams();
      form.set("sessionId", s.id);
      form.set("serviceCode", cfg.serviceCode);
      form.set("phoneNumber", s.number);
      form.set("networkCode", cfg.networkCode);
      form.set("status", "Incomplete");
      form.set("hopsCount", String(s.path.length + 1));
      form.set("input", s.path.join("*"));
      fetch("/ussd/africastalking/events?token=" + encodeURIComponent(cfg.token), {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: form.toString()
      }).catch(function () {});
    }
    idle();
    input.focus();
  }
  function press(key) {
    input.value += key;
    input.focus();
  }

  var polling = false;
  function refreshInbox() {
    var msisdn = number.value.trim();
    if (!msisdn) {
      inbox.textContent = "";
      note.textContent = "Pick or type a number.";
      return;
    }
    if (polling) return;
    polling = true;
    fetch("/dev/sms/" + encodeURIComponent(msisdn), { cache: "no-store" }).then(function (res) {
      return res.json().then(function (json) { return { ok: res.ok, json: json }; });
    }).then(function (r) {
      if (number.value.trim() !== msisdn) return;
      if (!r.ok) {
        inbox.textContent = "";
        note.textContent = (r.json && r.json.message) || "Cannot read this inbox.";
        return;
      }
      renderInbox(msisdn, r.json.messages || []);
    }).catch(function () {
      note.textContent = "Cannot reach the server.";
    }).then(function () {
      polling = false;
    });
  }
  function renderInbox(msisdn, messages) {
    note.textContent = messages.length + " message" + (messages.length === 1 ? "" : "s") +
      " to " + msisdn + " (newest first)";
    inbox.textContent = "";
    messages.forEach(function (m) {
      var li = document.createElement("li");
      li.dataset.template = m.template;
      li.dataset.id = String(m.id);
      var meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = new Date(m.created_at_us / 1000).toLocaleString() + " · " +
        m.template + " · " + m.status;
      var body = document.createElement("div");
      body.className = "body";
      body.textContent = m.body;
      li.appendChild(meta);
      li.appendChild(body);
      inbox.appendChild(li);
    });
  }

  demo.addEventListener("change", function () {
    if (demo.value) {
      if (session) end();
      number.value = demo.value;
      refreshInbox();
    } else {
      number.focus();
    }
  });
  number.addEventListener("input", function () {
    if (session) end();
    demo.value = "";
    for (var i = 0; i < demo.options.length; i++) {
      if (demo.options[i].value === number.value.trim()) demo.value = demo.options[i].value;
    }
    refreshInbox();
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter") { e.preventDefault(); send(); }
    else if (e.key === "Escape") { e.preventDefault(); end(); }
  });
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (t === input || t === number || t === demo || e.ctrlKey || e.metaKey || e.altKey) return;
    if (/^[0-9*#]$/.test(e.key)) { e.preventDefault(); press(e.key); }
    else if (e.key === "Enter") { e.preventDefault(); send(); }
    else if (e.key === "Escape") { e.preventDefault(); end(); }
  });
  $("keys").addEventListener("click", function (e) {
    var b = e.target.closest("button");
    if (b && b.dataset.key) press(b.dataset.key);
  });
  sendBtn.addEventListener("click", send);
  dialBtn.addEventListener("click", dial);
  $("end").addEventListener("click", end);
  $("clear").addEventListener("click", function () {
    input.value = input.value.slice(0, -1);
    input.focus();
  });

  if (demo.options.length > 1) {
    demo.selectedIndex = 1;
    number.value = demo.value;
  }
  idle();
  refreshInbox();
  setInterval(refreshInbox, 2000);
})();
</script>
</body>
</html>
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_filling() {
        assert_eq!(
            html_escape(r#"<a href="x">O'Neil & co</a>"#),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;"
        );
        assert_eq!(
            script_json(&serde_json::json!({ "t": "</script><!--&" })),
            r#"{"t":"\u003c/script\u003e\u003c!--\u0026"}"#
        );
        assert_eq!(
            fill("a{{x}}b{{y}}c{{", &[("x", "{{y}}"), ("y", "Y")]),
            "a{{y}}bYc{{"
        );
        assert!(PAGE.len() < 30_000);
    }
}
