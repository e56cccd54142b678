// The admin web UI: a thin client of the REST API /api/v1 (the same one the tigw CLI uses).
// The token lives in sessionStorage (this tab only); every text is set with textContent.
const TOKEN = "tigw-token";
const main = document.getElementById("main");

/** An element with attributes and children (strings become text nodes, never HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== false && v !== undefined) el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) el.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return el;
}

const table = (head, rows) =>
  h(
    "table",
    {},
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        head.map((c) => h("th", {}, c)),
      ),
    ),
    h(
      "tbody",
      {},
      rows.map((r) =>
        h(
          "tr",
          {},
          r.map((c) => h("td", {}, c)),
        ),
      ),
    ),
  );

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const token = sessionStorage.getItem(TOKEN);
  const res = await fetch(path, {
    method,
    headers: { accept: "application/json", ...(body ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    // not JSON: the status line says enough
  }
  if (!res.ok) throw new ApiError(res.status, data.code ?? `HTTP_${res.status}`, data.detail ?? res.statusText);
  return data;
}

function show(...nodes) {
  main.replaceChildren(...nodes);
}

function loginView() {
  document.getElementById("nav").hidden = true;
  const alert = h("p", { role: "alert" });
  const totp = h(
    "label",
    { hidden: true },
    "Code of your authenticator app",
    h("input", { name: "totp", inputmode: "numeric", autocomplete: "one-time-code" }),
  );
  const form = h(
    "form",
    { class: "login", onsubmit: (e) => submit(e) },
    h("label", {}, "User", h("input", { name: "username", autocomplete: "username", required: true })),
    h("label", {}, "Password", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    totp,
    h("button", { type: "submit" }, "Log in"),
    alert,
  );
  async function submit(e) {
    e.preventDefault();
    const f = new FormData(form);
    try {
      const r = await api("POST", "/api/v1/auth/login", {
        username: f.get("username"),
        password: f.get("password"),
        ...(f.get("totp") ? { totp: f.get("totp") } : {}),
      });
      sessionStorage.setItem(TOKEN, r.token);
      location.hash = "#/fleet";
    } catch (err) {
      if (err.code === "TOTP_REQUIRED") totp.hidden = false;
      alert.textContent = err.message;
    }
  }
  show(h("h1", {}, "Log in"), form);
}

async function fleetView() {
  const { units } = await api("GET", "/api/v1/fleet");
  // Each unit's functional check, so the units that need attention stand out.
  const checks = await Promise.all(
    units.map((u) =>
      api("GET", `/api/v1/units/${encodeURIComponent(u.serial)}/check`).then(
        (c) => c.status,
        () => "?",
      ),
    ),
  );
  const days = (g) => (g ? h("span", { class: g.daysToExpiry <= 0 ? "error" : g.daysToExpiry < 90 ? "warning" : "ok" }, `${g.daysToExpiry} d`) : "-");
  return [
    h("h1", {}, "Fleet"),
    table(
      ["Unit", "Check", "Profile", "State", "Firmware", "Mandanten", "KTs per compute unit", "gSMC-K expiry", "TI access"],
      units.map((u, i) => [
        h("a", { href: `#/unit/${encodeURIComponent(u.serial)}` }, u.serial),
        h("span", { class: `status ${checks[i]}` }, checks[i]),
        u.profile,
        u.state,
        u.firmware,
        `${u.mandantenCount}/${u.mandantenLimit}`,
        u.computeUnits.map((c) => `${c.ktsUsed}/${c.ktsLimit}`).join(" "),
        days(u.gsmck),
        u.gsmck ? (u.gsmck.tiAccess ? "yes" : "no") : "-",
      ]),
    ),
  ];
}

/** The operator's role allows changes (viewers only look). */
let canChange = false;

/** A button that runs an action after the operator confirmed it, then shows the page again (or the error). */
function action(label, question, run) {
  return h(
    "button",
    {
      type: "button",
      onclick: async () => {
        const answer = window.prompt(question);
        if (answer === null) return;
        try {
          await run(answer);
          await route();
        } catch (err) {
          document.getElementById("problem").textContent = `${err.code}: ${err.message}`;
        }
      },
    },
    label,
  );
}

function unitActions(unit, state) {
  if (!canChange) return [];
  const path = `/api/v1/units/${encodeURIComponent(unit)}/state`;
  const change = (a, label) => action(label, `${label} ${unit}? Reason:`, (reason) => api("POST", path, { action: a, reason }));
  if (state === "provisioned") return [change("activate", "Activate")];
  if (state === "active") return [change("block", "Block (Sperrung)")];
  if (state === "blocked") return [change("unblock", "Unblock")];
  return [];
}

/**
 * The unit's registration at the VPN-Zugangsdienst and the TI-access rule's verdict, as vpn
 * reports it (GET /units/:unit/vpn). A vpn that cannot be asked leaves the rest of the page
 * usable: the section says why it is missing instead.
 */
function vpnSection(r) {
  if (r instanceof ApiError) return h("p", { id: "vpn", class: "error" }, `VPN-ZugD status unavailable: ${r.code}: ${r.message}`);
  const tunnel = (t) => `${t?.state ?? "down"}${t?.lastHeartbeat ? ` (last heartbeat ${t.lastHeartbeat})` : ""}`;
  const yesNo = (ok, text) => h("span", { class: ok ? "ok" : "error" }, text);
  return h(
    "table",
    { id: "vpn" },
    h(
      "tbody",
      {},
      [
        ["Registration", yesNo(r.registrationStatus === "Registriert", r.registrationStatus)],
        ["ContractID", r.contractId || "-"],
        ["Contract status", r.contractStatus],
        ["TI access", r.tiAccess ? yesNo(true, "yes") : yesNo(false, `no: ${(r.tiAccessReasons ?? []).join("; ")}`)],
        ["SIS access", r.sisAccess ? "yes" : r.sisRequested ? "requested, not granted" : "not requested"],
        ["TI tunnel", tunnel(r.tiTunnel)],
        ["SIS tunnel", tunnel(r.sisTunnel)],
        ["Sperrung", r.blocked ? yesNo(false, `yes: ${r.blockedReason}`) : "no"],
        ["Last result", r.lastResult ? `${r.lastResult}${r.lastMessage ? ` ${r.lastMessage}` : ""}` : "-"],
      ].map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v))),
    ),
  );
}

/** The protocol filter of the unit page (outcome), kept in the hash: #/unit/SERIAL/error. */
const OUTCOMES = ["", "ok", "warning", "error"];

async function unitView(unit, outcome = "") {
  const path = `/api/v1/units/${encodeURIComponent(unit)}`;
  const [check, { terminals }, log, u, infomodell, vpn] = await Promise.all([
    api("GET", `${path}/check`),
    api("GET", `/api/v1/terminals?unit=${encodeURIComponent(unit)}`),
    api("GET", `${path}/vsd-log?limit=20${outcome ? `&outcome=${outcome}` : ""}`),
    api("GET", path),
    api("GET", `${path}/infomodell`),
    api("GET", `${path}/vpn`).catch((err) => {
      if (err.status === 401) throw err;
      return err instanceof ApiError ? err : new ApiError(0, "UNAVAILABLE", String(err));
    }),
  ]);
  const list = (xs) => (xs && xs.length ? xs.join(", ") : "-");
  const filter = h(
    "select",
    { id: "outcome", onchange: (e) => (location.hash = `#/unit/${encodeURIComponent(unit)}${e.target.value ? `/${e.target.value}` : ""}`) },
    OUTCOMES.map((o) => h("option", { value: o, selected: o === outcome }, o || "all outcomes")),
  );
  const badge = (s) => h("span", { class: `status ${s}` }, s);
  // Theft or loss of a terminal: unpairing means it can never connect again with its old pairing.
  const unpair = (ctId) =>
    canChange
      ? action("Unpair", `Unpair ${ctId} (theft, loss, exchange)? Reason:`, (reason) =>
          api("POST", `/api/v1/terminals/${encodeURIComponent(ctId)}/unpair`, { reason }),
        )
      : "";
  return [
    h("h1", {}, unit, " ", badge(check.status)),
    h("p", {}, `State: ${u.state}. `, ...unitActions(unit, u.state)),
    h("p", { role: "alert", id: "problem" }),
    h("h2", {}, "Functional check"),
    table(
      ["Check", "Status", "Detail"],
      check.checks.map((c) => [c.check, badge(c.status), c.detail]),
    ),
    h("h2", {}, "VPN-Zugangsdienst"),
    vpnSection(vpn),
    h("h2", {}, "Card terminals"),
    terminals.length
      ? table(
          ["ctId", "State", "Connected", "Compute unit", "Cards", ""],
          terminals.map((t) => [
            t.ctId,
            t.correlation,
            t.connected ? "yes" : "no",
            t.computeUnit || "-",
            t.cards.map((c) => `${c.slot}: ${c.cardType}`).join(", "),
            t.correlation === "bekannt" ? "" : unpair(t.ctId),
          ]),
        )
      : h("p", {}, "No terminals."),
    h("h2", {}, "Infomodell"),
    table(
      ["Mandant", "Client systems", "Workplaces", "Terminals", "SM-B (ICCSN)"],
      (infomodell.mandanten ?? []).map((m) => [m.mandantId, list(m.clientSystems), list(m.workplaces), list(m.terminals), list(m.smbs)]),
    ),
    table(
      ["Workplace", "Client systems", "Local terminals", "Remote terminals"],
      (infomodell.workplaces ?? []).map((w) => [w.workplaceId, list(w.clientSystems), list(w.localTerminals), list(w.remoteTerminals)]),
    ),
    h("h2", {}, "VSDM protocol (newest 20) ", filter),
    log.entries.length
      ? table(
          ["Time", "Mandant", "Workplace", "ctId", "KVNR", "OCSP", "Outcome", "Code", "Result"],
          log.entries.map((e) => [
            e.at,
            e.mandantId,
            e.workplaceId,
            e.ctId || "-",
            e.kvnr || "-",
            e.ocsp || "-",
            badge(e.outcome),
            e.code || "-",
            e.result || "-",
          ]),
        )
      : h("p", {}, "No reads."),
  ];
}

/** Operator accounts (admins): add, change role, reset password or TOTP, remove. */
async function usersView() {
  const { users } = await api("GET", "/api/v1/users");
  const path = (u) => `/api/v1/users/${encodeURIComponent(u)}`;
  const alert = h("p", { role: "alert", id: "problem" });
  const form = h(
    "form",
    { class: "login", onsubmit: (e) => add(e) },
    h("label", {}, "User", h("input", { name: "username", required: true })),
    h(
      "label",
      {},
      "Initial password (12 characters or more)",
      h("input", { name: "password", type: "password", autocomplete: "new-password", required: true }),
    ),
    h(
      "label",
      {},
      "Role",
      h(
        "select",
        { name: "role" },
        ["viewer", "operator", "admin"].map((r) => h("option", { value: r }, r)),
      ),
    ),
    h("button", { type: "submit" }, "Add user"),
  );
  async function add(e) {
    e.preventDefault();
    const f = new FormData(form);
    try {
      await api("POST", "/api/v1/users", { username: f.get("username"), password: f.get("password"), role: f.get("role") });
      await route();
    } catch (err) {
      alert.textContent = `${err.code}: ${err.message}`;
    }
  }
  return [
    h("h1", {}, "Operator accounts"),
    alert,
    table(
      ["User", "Role", "TOTP", "Created", ""],
      users.map((u) => [
        u.username,
        u.role,
        u.totpEnabled ? "yes" : "no",
        u.createdAt,
        h(
          "span",
          {},
          action("Role", `New role of ${u.username} (viewer, operator, admin):`, (role) => api("POST", `${path(u.username)}/role`, { role })),
          action("Reset password", `New password for ${u.username}:`, (password) => api("POST", `${path(u.username)}/password`, { password })),
          u.totpEnabled
            ? action("Reset TOTP", `Turn off TOTP of ${u.username} (lost phone)? Type yes:`, () => api("POST", `${path(u.username)}/totp/reset`))
            : "",
          action("Remove", `Remove ${u.username}? Type yes:`, (yes) => (yes === "yes" ? api("DELETE", path(u.username)) : Promise.resolve())),
        ),
      ]),
    ),
    h("h2", {}, "Add a user"),
    form,
  ];
}

/** The operator's own account: password change and TOTP (second factor). */
async function accountView() {
  const me = await api("GET", "/api/v1/auth/me");
  const alert = h("p", { role: "alert", id: "problem" });
  const done = h("p", { id: "done" });
  const report = (fn) => async (e) => {
    e.preventDefault();
    alert.textContent = "";
    try {
      done.textContent = await fn(new FormData(e.target));
    } catch (err) {
      alert.textContent = `${err.code}: ${err.message}`;
    }
  };
  const password = h(
    "form",
    {
      class: "login",
      id: "password-form",
      onsubmit: report(async (f) => {
        const r = await api("POST", "/api/v1/auth/password", { currentPassword: f.get("current"), newPassword: f.get("next") });
        sessionStorage.setItem(TOKEN, r.token);
        return "Password changed; your other sessions have ended.";
      }),
    },
    h("label", {}, "Current password", h("input", { name: "current", type: "password", autocomplete: "current-password", required: true })),
    h("label", {}, "New password (12 characters or more)", h("input", { name: "next", type: "password", autocomplete: "new-password", required: true })),
    h("button", { type: "submit" }, "Change password"),
  );
  const secret = h("code", { id: "totp-secret" });
  const confirm = h(
    "form",
    {
      class: "login",
      id: "totp-form",
      hidden: true,
      onsubmit: report(async (f) => {
        await api("POST", "/api/v1/auth/totp/confirm", { code: f.get("code") });
        confirm.hidden = true;
        return "TOTP is on: logging in now needs the app's code.";
      }),
    },
    h("p", {}, "Add this secret to your authenticator app, then enter its current code: ", secret),
    h("label", {}, "Code", h("input", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true })),
    h("button", { type: "submit" }, "Turn TOTP on"),
  );
  const enrol = h(
    "button",
    {
      type: "button",
      id: "totp-enrol",
      onclick: async () => {
        try {
          const r = await api("POST", "/api/v1/auth/totp");
          secret.textContent = r.secret;
          secret.title = r.otpauthUri;
          confirm.hidden = false;
        } catch (err) {
          alert.textContent = `${err.code}: ${err.message}`;
        }
      },
    },
    "Set up TOTP",
  );
  return [
    h("h1", {}, `Account ${me.username} (${me.role})`),
    alert,
    done,
    h("h2", {}, "Password"),
    password,
    h("h2", {}, "Second factor (TOTP)"),
    enrol,
    confirm,
  ];
}

/** Practice accounts (TI-Gateway users): status, their Mandanten on units, DVO grants, VPN boxes; an operator blocks or unblocks. */
async function practicesView() {
  const [{ practices }, { boxes }] = await Promise.all([api("GET", "/api/v1/practices"), api("GET", "/api/v1/boxes")]);
  /** The practice's boxes not removed, and how many of them have a session now. */
  const boxesOf = (p) => {
    const own = boxes.filter((b) => b.account === p.account && b.state !== "removed");
    return own.length ? `${own.length} ${own.length === 1 ? "box" : "boxes"}, ${own.filter((b) => b.connected).length} connected` : "-";
  };
  const alert = h("p", { role: "alert", id: "problem" });
  const change = (p) =>
    canChange
      ? h(
          "button",
          {
            type: "button",
            onclick: async () => {
              try {
                if (p.status === "blocked") await api("POST", `/api/v1/practices/${encodeURIComponent(p.account)}/unblock`, {});
                else {
                  const reason = prompt(`Block ${p.account}: reason`);
                  if (reason === null) return;
                  await api("POST", `/api/v1/practices/${encodeURIComponent(p.account)}/block`, { reason });
                }
                await route();
              } catch (err) {
                alert.textContent = `${err.code}: ${err.message}`;
              }
            },
          },
          p.status === "blocked" ? "Unblock" : "Block",
        )
      : "";
  return [
    h("h1", {}, "Practices"),
    alert,
    practices.length
      ? table(
          ["Account", "Practice", "Status", "Mandanten", "Active DVO grants", "VPN boxes", ""],
          practices.map((p) => [
            p.account,
            p.practiceName,
            p.status === "blocked" ? `blocked: ${p.blockedReason}` : p.status,
            p.bindings.map((b) => `${b.serial}/${b.mandantId}`).join(", ") || "-",
            String(p.grants.filter((g) => g.state === "active").length),
            boxesOf(p),
            change(p),
          ]),
        )
      : h("p", {}, "No practice has registered yet (practices register at /portal/; bind them with tigw practice bind)."),
  ];
}

/**
 * Firmware (KSR): what runs where (units and card terminals against the catalogue's approval),
 * the releases with start dates and deadlines, worst first; an operator updates a unit now or
 * plans a terminal's update (it runs when the terminal connects).
 */
async function firmwareView() {
  const [{ units }, { terminals }, { releases }] = await Promise.all([
    api("GET", "/api/v1/fleet/firmware"),
    api("GET", "/api/v1/fleet/firmware/terminals"),
    api("GET", "/api/v1/ksr/releases"),
  ]);
  const alert = h("p", { role: "alert", id: "problem" });
  const approval = (a, d) => h("span", { class: a === "zugelassen" ? "ok" : "error" }, `${a}${d ? ` ${d}` : ""}`);
  const flags = (xs) => (xs.length ? h("span", { class: "warning" }, xs.join("; ")) : "-");
  const updateUnit = (u) =>
    canChange && u.dueUpdateId
      ? action("Update now", `Install ${u.dueUpdateId} (${u.dueVersion}) on ${u.serial} now? Type yes:`, (yes) =>
          yes === "yes" ? api("POST", `/api/v1/units/${encodeURIComponent(u.serial)}/firmware/update`, {}) : Promise.resolve(),
        )
      : "";
  const updateTerminal = (t) =>
    canChange && t.dueUpdateId && t.paired && !t.plannedUpdateId
      ? action("Update", `Update ${t.ctId} to ${t.dueVersion} (now if connected, else when it connects)? Type yes:`, (yes) =>
          yes === "yes" ? api("POST", `/api/v1/terminals/${encodeURIComponent(t.ctId)}/firmware/update`, {}) : Promise.resolve(),
        )
      : "";
  return [
    h("h1", {}, "Firmware"),
    alert,
    h("h2", {}, "Konnektors"),
    units.length
      ? table(
          ["Unit", "Firmware", "Approval", "Update due", "Start", "Deadline", "Auto-update", "Last result", "Attention", ""],
          units.map((u) => [
            h("a", { href: `#/unit/${encodeURIComponent(u.serial)}` }, u.serial),
            u.version,
            approval(u.approval, u.approvalDate),
            u.dueUpdateId ? `${u.dueUpdateId}: ${u.dueVersion} (${u.duePriority})` : "-",
            u.dueStartDate || "-",
            u.dueDeadline || "-",
            u.settings?.autoUpdate ? u.settings.window : "off",
            u.lastResult ? `${u.lastResult} ${u.lastMessage}` : "-",
            u.tiBlockers.length ? h("span", { class: "error" }, `NO TI ACCESS: ${u.tiBlockers.join("; ")}`) : flags(u.flags),
            updateUnit(u),
          ]),
        )
      : h("p", {}, "No units."),
    h("h2", {}, "Card terminals"),
    terminals.length
      ? table(
          ["ctId", "Model", "Firmware", "Approval", "Update due", "Deadline", "State", "Last result", "Attention", ""],
          terminals.map((t) => [
            t.ctId,
            t.product || "-",
            t.version || "-",
            approval(t.approval, t.approvalDate),
            t.plannedUpdateId ? `${t.plannedUpdateId} (planned, on connect)` : t.dueUpdateId ? `${t.dueUpdateId}: ${t.dueVersion}` : "-",
            t.dueDeadline || "-",
            `${t.paired ? "paired" : "not paired"}${t.connected ? ", connected" : ""}`,
            t.lastResult ? `${t.lastResult} ${t.lastMessage}` : "-",
            flags(t.flags),
            updateTerminal(t),
          ]),
        )
      : h("p", {}, "No card terminals."),
    h("h2", {}, "Releases (update plan)"),
    releases.length
      ? table(
          ["UpdateID", "Product", "Version", "Priority", "Start", "Deadline", "Batch", "Signed by"],
          releases.map((r) => [
            r.updateId,
            r.product,
            r.fwVersion,
            h("span", { class: r.fwPriority === "Kritisch" ? "error" : "" }, r.fwPriority),
            r.startDate,
            r.deadline,
            r.afterTerminals ? "Konnektor after its KTs" : "-",
            r.signerCertSerial,
          ]),
        )
      : h("p", {}, "No releases (tigw ksr publish ...)."),
  ];
}

/** Counts navigations: a page that finishes loading after the operator moved on is not shown. */
let navigation = 0;

async function route() {
  const mine = ++navigation;
  const [, view, arg, rest = ""] = location.hash.split("/");
  if (!sessionStorage.getItem(TOKEN) || view === "login") return loginView();
  try {
    const me = await api("GET", "/api/v1/auth/me");
    document.getElementById("who").textContent = `${me.username} (${me.role})`;
    canChange = me.role === "operator" || me.role === "admin";
    document.getElementById("nav").hidden = false;
    document.getElementById("users-link").hidden = me.role !== "admin";
    const page =
      view === "unit" && arg
        ? await unitView(decodeURIComponent(arg), OUTCOMES.includes(rest) ? rest : "")
        : view === "users" && me.role === "admin"
          ? await usersView()
          : view === "account"
            ? await accountView()
            : view === "practices"
              ? await practicesView()
              : view === "firmware"
                ? await firmwareView()
                : await fleetView();
    if (mine === navigation) show(...page);
  } catch (err) {
    if (err.status === 401) {
      sessionStorage.removeItem(TOKEN);
      return loginView();
    }
    show(h("h1", {}, "Error"), h("p", { role: "alert" }, `${err.code}: ${err.message}`));
  }
}

document.getElementById("logout").addEventListener("click", async () => {
  await api("POST", "/api/v1/auth/logout").catch(() => undefined);
  sessionStorage.removeItem(TOKEN);
  location.hash = "#/login";
});
window.addEventListener("hashchange", route);
route();
