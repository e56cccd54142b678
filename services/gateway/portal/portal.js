// The practice portal: registration with TOTP enrolment, login with password and code, and the
// practice's own instances, terminals, VSDM protocol, DVO grants and VPN boxes. Every datum comes
// from /api/v1/portal with the session token; the server scopes it by the session's practice.
// Text reaches the page as textContent only.
const main = document.getElementById("main");
const KEY = "tigw-portal-session";
let session = JSON.parse(sessionStorage.getItem(KEY) ?? "null");

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return e;
}

function keep(s) {
  session = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
}

async function api(method, path, body) {
  const res = await fetch(`/api/v1/portal${path}`, {
    method,
    headers: { ...(session ? { authorization: `Bearer ${session.token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    if (res.status === 401 && session) keep(null);
    throw Object.assign(new Error(`${data.code ?? res.status}: ${data.detail ?? res.statusText}`), { code: data.code });
  }
  return data;
}

const alertBox = (id = "problem") => el("p", { role: "alert", id });
const show = (box, e) => (box.textContent = e instanceof Error ? e.message : String(e));
const field = (label, name, type = "text", extra = {}) => el("label", {}, label, el("input", { name, type, required: true, ...extra }));

function table(head, rows, id) {
  return el(
    "table",
    { id },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        head.map((h) => el("th", {}, h)),
      ),
    ),
    el(
      "tbody",
      {},
      rows.map((r) =>
        el(
          "tr",
          {},
          r.map((c) => el("td", {}, c)),
        ),
      ),
    ),
  );
}

function loginView() {
  const box = alertBox();
  const form = el(
    "form",
    { class: "login", id: "login" },
    field("Account", "account", "text", { autocomplete: "username" }),
    field("Password", "password", "password", { autocomplete: "current-password" }),
    el("label", {}, "TOTP code (or a recovery code)", el("input", { name: "totp", autocomplete: "one-time-code" })),
    el("button", { type: "submit" }, "Log in"),
    box,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    try {
      keep(await api("POST", "/login", { account: f.get("account"), password: f.get("password"), totp: f.get("totp") || undefined }));
      await route();
    } catch (e) {
      show(box, e);
    }
  });
  main.replaceChildren(el("h1", {}, "Log in"), form, el("p", {}, "New practice? ", el("a", { href: "#/register", id: "register-link" }, "Register")));
}

function registerView() {
  const box = alertBox();
  const form = el(
    "form",
    { class: "login", id: "register" },
    field("Practice name", "practiceName"),
    field("Account", "account", "text", { autocomplete: "username" }),
    field("Password (12 characters or more)", "password", "password", { autocomplete: "new-password" }),
    el("button", { type: "submit" }, "Register"),
    box,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    try {
      keep(await api("POST", "/register", { account: f.get("account"), password: f.get("password"), practiceName: f.get("practiceName") }));
      // Leaving #/register routes once (hashchange): a second route would ask for a second secret.
      location.hash = "#/";
    } catch (e) {
      show(box, e);
    }
  });
  main.replaceChildren(el("h1", {}, "Register your practice"), form, el("p", {}, el("a", { href: "#/" }, "Back to login")));
}

/** After registration (or a login before enrolment): nothing but the TOTP enrolment. */
async function enrolView() {
  const box = alertBox();
  const { secret, otpauthUri } = await api("POST", "/totp");
  const form = el(
    "form",
    { class: "login", id: "enrol" },
    field("Code from the app", "code", "text", { inputmode: "numeric", autocomplete: "one-time-code" }),
    el("button", { type: "submit" }, "Confirm"),
    box,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      // The recovery codes are shown once and kept nowhere, not even in the session's storage.
      const { recoveryCodes, ...s } = await api("POST", "/totp/confirm", { code: new FormData(form).get("code") });
      keep(s);
      recoveryCodesView(recoveryCodes);
    } catch (e) {
      show(box, e);
    }
  });
  main.replaceChildren(
    el("h1", {}, "Set up your authenticator app"),
    el(
      "p",
      {},
      "Before anything else your practice needs a second factor. Add this key to an authenticator app (TOTP, 6 digits, 30 s), then type its current code.",
    ),
    el("p", {}, "Key: ", el("code", { id: "totp-secret" }, secret)),
    el("p", {}, el("a", { href: otpauthUri, id: "otpauth" }, "otpauth link")),
    form,
  );
}

/** Recovery codes, shown this once: each replaces the TOTP code at one login (a lost phone). */
function recoveryCodesView(codes) {
  main.replaceChildren(
    el("h1", {}, "Your recovery codes"),
    el(
      "p",
      {},
      "Write these down and keep them apart from your phone. If the phone is lost, log in with your password and one of these codes instead of the app's code; each works once. They are shown only now.",
    ),
    el(
      "ul",
      { id: "recovery-codes" },
      codes.map((c) => el("li", {}, el("code", {}, c))),
    ),
    el("button", { type: "button", id: "recovery-done", onclick: () => route() }, "I have written them down"),
  );
}

/** How many recovery codes are left, and a new set for the password again (the old set stops working). */
function recoverySection(me) {
  const box = alertBox("recovery-problem");
  const form = el(
    "form",
    { class: "login", id: "recovery-renew" },
    field("Password", "password", "password", { autocomplete: "current-password" }),
    el("button", { type: "submit" }, "New recovery codes"),
    box,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!confirm("Make ten new recovery codes? The ones you have stop working.")) return;
    try {
      recoveryCodesView((await api("POST", "/recovery-codes", { password: new FormData(form).get("password") })).recoveryCodes);
    } catch (e) {
      show(box, e);
    }
  });
  return [
    el("h2", {}, "Recovery codes"),
    el("p", { id: "recovery-left" }, `${me.recoveryCodesLeft} of 10 unused${me.recoveryCodesLeft <= 2 ? ": make new ones soon" : ""}`),
    el("p", {}, "Lost your phone? Log in with your password and a recovery code instead of the app's code; then set up the new phone."),
    form,
  ];
}

/**
 * The practice's VPN boxes: the list (state, session, certificate, why the last session ended),
 * announcing one (its one-time enrolment code is shown here once and kept nowhere) and removing
 * one (its certificate is revoked, its session ends). Only this section is redrawn, so the code
 * stays on the page while the list changes.
 */
function boxesSection(me, boxes) {
  const problem = alertBox("box-problem");
  const list = el("div", { id: "boxes-list" });
  const enrolment = el("div", { id: "box-enrolment" });
  const fail = (e) => (session ? show(problem, e) : route());
  const refresh = async () => draw((await api("GET", "/boxes")).boxes);
  const remove = (b) =>
    el(
      "button",
      {
        type: "button",
        class: "box-remove",
        "data-box": b.boxId,
        onclick: async () => {
          if (!confirm(`Remove the VPN box "${b.name}"? Its certificate is revoked and its session ends at once.`)) return;
          try {
            await api("POST", `/boxes/${encodeURIComponent(b.boxId)}/remove`);
            if (enrolment.dataset.box === b.boxId) enrolment.replaceChildren();
            problem.textContent = "";
            await refresh();
          } catch (e) {
            fail(e);
          }
        },
      },
      "Remove",
    );
  const sessionOf = (b) => {
    if (b.connected) return `connected since ${b.connectedSince}, last heartbeat ${b.lastHeartbeat || "-"}`;
    if (b.state === "awaiting-enrolment") return `not enrolled yet (code valid until ${b.enrolmentExpiresAt})`;
    return b.state === "removed" ? `removed ${b.removedAt}` : "not connected";
  };
  function draw(bs) {
    list.replaceChildren(
      table(
        ["Box", "State", "Session", "Certificate valid until", "Last session ended", ""],
        bs.map((b) => [
          el("span", { title: b.boxId }, b.name),
          b.state,
          sessionOf(b),
          b.certNotAfter || "-",
          b.lastSessionEnd || "-",
          b.state === "removed" ? "" : remove(b),
        ]),
        "boxes",
      ),
    );
  }
  const form = el(
    "form",
    { class: "login", id: "box-announce" },
    field("Name of the new box", "name", "text", { maxlength: 60 }),
    el("button", { type: "submit" }, "Announce box"),
    problem,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("POST", "/boxes", { name: new FormData(form).get("name") });
      form.reset();
      problem.textContent = "";
      enrolment.dataset.box = r.box.boxId;
      enrolment.replaceChildren(
        el("h3", {}, `Enrolment code for "${r.box.name}"`),
        el("p", {}, "Shown this once and valid until ", r.box.enrolmentExpiresAt, ": note it now. The box makes its own key and enrols with it:"),
        el("p", {}, el("code", { id: "box-code" }, r.enrolmentCode)),
        el(
          "p",
          {},
          "Try it with the simulated box: ",
          el("code", { id: "box-command" }, `tigw sim vpnbox --account ${me.account} --enrol ${r.enrolmentCode} --listen 127.0.0.1:PORT`),
        ),
        el("p", {}, "Zugangsmodul: ", el("code", { id: "box-zugangsmodul" }, r.zugangsmodul.address)),
      );
      await refresh();
    } catch (e) {
      fail(e);
    }
  });
  draw(boxes);
  return [el("h2", {}, "VPN boxes"), list, form, enrolment];
}

async function dashboard(me) {
  const [{ instances }, { terminals }, { entries }, { grants }, { boxes }] = await Promise.all([
    api("GET", "/instances"),
    api("GET", "/terminals"),
    api("GET", "/vsd-log?limit=20"),
    api("GET", "/grants"),
    api("GET", "/boxes"),
  ]);
  const box = alertBox();
  const grantForm = el(
    "form",
    { class: "login", id: "grant" },
    el(
      "label",
      {},
      "Instance",
      el(
        "select",
        { name: "unit" },
        instances.map((i) => el("option", { value: i.unit }, i.unit)),
      ),
    ),
    field("Technician (DVO)", "technician"),
    field("Hours", "hours", "number", { min: 1, max: 336, value: 4 }),
    el("button", { type: "submit" }, "Grant access"),
    box,
  );
  grantForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(grantForm);
    try {
      await api("POST", "/grants", { unit: f.get("unit"), technician: f.get("technician"), hours: Number(f.get("hours")) });
      await route();
    } catch (e) {
      show(box, e);
    }
  });
  const revoke = (g) =>
    g.state === "active"
      ? el(
          "button",
          { type: "button", onclick: async () => api("POST", `/grants/${encodeURIComponent(g.grantId)}/revoke`).then(route, (e) => show(box, e)) },
          "Revoke",
        )
      : "";
  main.replaceChildren(
    el("h1", {}, me.practiceName),
    el("h2", {}, "Instances and Mandanten"),
    table(
      ["Instance", "State", "TI access", "Mandant", "Name"],
      instances.flatMap((i) => i.mandanten.map((m) => [i.unit, i.state, i.tiAccess === null ? "?" : i.tiAccess ? "yes" : "no", m.mandantId, m.name])),
      "instances",
    ),
    el("h2", {}, "Card terminals"),
    table(
      ["Terminal", "Instance", "Mandant", "State", "Cards"],
      terminals.map((t) => [
        t.ctId,
        t.unit,
        t.mandantId,
        `${t.correlation}${t.connected ? ", connected" : ""}`,
        t.cards.map((c) => `${c.slot}: ${c.cardType} ${c.cardHandle}`).join("; "),
      ]),
      "terminals",
    ),
    el("h2", {}, "VSDM protocol (newest 20)"),
    table(
      ["Time", "Mandant", "Terminal", "KVNR", "Outcome", "Code"],
      entries.map((e) => [e.at, e.mandantId, e.ctId, e.kvnr, e.outcome, e.code]),
      "vsd-log",
    ),
    el("h2", {}, "Technician access (DVO)"),
    table(
      ["Grant", "Instance", "Technician", "Until", "State", ""],
      grants.map((g) => [g.grantId, g.serial, g.technician, g.until, g.state, revoke(g)]),
      "grants",
    ),
    grantForm,
    ...boxesSection(me, boxes),
    ...recoverySection(me),
  );
}

async function route() {
  const nav = document.getElementById("nav");
  if (!session) {
    nav.hidden = true;
    return location.hash === "#/register" ? registerView() : loginView();
  }
  try {
    const me = await api("GET", "/me");
    nav.hidden = false;
    document.getElementById("who").textContent = `${me.account} (${me.practiceName})`;
    if (me.status !== "active" || session.stage !== "practice") return await enrolView();
    await dashboard(me);
  } catch (e) {
    if (!session) return route();
    main.replaceChildren(el("p", { role: "alert", id: "problem" }, e.message));
  }
}

document.getElementById("logout").addEventListener("click", async () => {
  await api("POST", "/logout").catch(() => undefined);
  keep(null);
  location.hash = "#/";
  await route();
});
window.addEventListener("hashchange", () => void route());
void route();
