// Walks one customer's contract through the dvsync reference Dataverse's
// Customer Service engine with the real `dynamics-web-api` npm client:
// an entitlement of 2 cases that restricts case creation accepts two cases
// and refuses the third with Dataverse's error payload; an SLA of 60
// minutes with a 30-minute warning on a Monday-Friday 09:00-17:00
// business-hours calendar gives a case created on Friday at 16:45 a
// warning time of Monday 09:15 and a failure time of Monday 09:45.
// The check starts its own server with `dvsync serve --clock` set to that
// Friday, so the case is created at 16:45 as a live case would be.
// One line per operation; exit 1 on any mismatch.
// Env: DVSYNC_BIN (the dvsync binary), DVSYNC_TOKEN.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { DynamicsWebApi } from "dynamics-web-api";

const bin = process.env.DVSYNC_BIN;
if (!bin) {
  console.log("FAIL dataverse-cs: DVSYNC_BIN is not set (run.sh sets it to the dvsync it built)");
  process.exit(1);
}
const token = process.env.DVSYNC_TOKEN || "peer-check";
const server = spawn(bin, ["serve", "--memory", "--listen", "127.0.0.1:0", "--clock", "2026-01-09T16:45:00Z"], {
  env: { ...process.env, DVSYNC_TOKEN: token },
  stdio: ["ignore", "pipe", "inherit"],
});
const serviceRoot = await new Promise((resolve, reject) => {
  const lines = createInterface({ input: server.stdout });
  lines.on("line", (l) => l.startsWith("dataverse ") && resolve(l.slice("dataverse ".length).trim()));
  server.on("exit", (code) => reject(new Error(`dvsync serve exited with ${code}`)));
});
const root = new URL(serviceRoot);
const api = new DynamicsWebApi({
  serverUrl: root.origin,
  dataApi: { version: "9.2" },
  onTokenRefresh: async () => token,
  propagateErrors: true,
});

let failed = 0;
let passed = 0;
async function check(name, fn) {
  try {
    const detail = await fn();
    passed++;
    console.log(`ok   ${name}${detail ? ": " + detail : ""}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${err && err.message ? err.message : err}`);
  }
}
function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

const run = Date.now().toString(36);
let accountId, entitlementId, slaId;

await check("create the customer", async () => {
  accountId = await api.create({ collection: "accounts", data: { name: `Contract ${run}` } });
  return accountId;
});

await check("create an entitlement of 2 cases that restricts case creation", async () => {
  entitlementId = await api.create({
    collection: "entitlements",
    data: {
      name: `Two cases ${run}`,
      "customerid_account@odata.bind": `/accounts(${accountId})`,
      startdate: "2026-01-01T00:00:00Z",
      enddate: "2026-12-31T00:00:00Z",
      allocationtypecode: 0,
      decreaseremainingon: 1,
      totalterms: 2,
      restrictcasecreation: true,
    },
  });
  const e = await api.retrieve({ collection: "entitlements", key: entitlementId, select: ["statecode", "remainingterms"] });
  expect(e.statecode === 0 && e.remainingterms === 2, `new entitlement: state ${e.statecode}, remaining ${e.remainingterms}`);
  return "Draft, 2 remaining";
});

await check("activate it", async () => {
  await api.update({ collection: "entitlements", key: entitlementId, data: { statecode: 1, statuscode: 1 } });
  const e = await api.retrieve({ collection: "entitlements", key: entitlementId, select: ["statecode"] });
  expect(e.statecode === 1, `state ${e.statecode}`);
  return "Active";
});

await check("editing the terms of the active entitlement is refused", async () => {
  try {
    await api.update({ collection: "entitlements", key: entitlementId, data: { totalterms: 10 } });
  } catch (err) {
    expect(err.status === 400, `status ${err.status}`);
    return err.message;
  }
  throw new Error("update succeeded");
});

const caseData = (title) => ({
  title,
  "customerid_account@odata.bind": `/accounts(${accountId})`,
  "entitlementid@odata.bind": `/entitlements(${entitlementId})`,
});

for (const n of [1, 2]) {
  await check(`open case ${n} against the entitlement`, async () => {
    await api.create({ collection: "incidents", data: caseData(`Case ${n} ${run}`) });
    const e = await api.retrieve({ collection: "entitlements", key: entitlementId, select: ["remainingterms"] });
    expect(e.remainingterms === 2 - n, `remaining ${e.remainingterms}`);
    return `${e.remainingterms} remaining`;
  });
}

await check("the third case is refused", async () => {
  try {
    await api.create({ collection: "incidents", data: caseData(`Case 3 ${run}`) });
  } catch (err) {
    expect(err.status === 400, `status ${err.status}`);
    expect(err.code === "0x80040265", `code ${err.code}`);
    expect(/remaining terms are used up/.test(err.message), `message ${err.message}`);
    const cases = await api.retrieveMultiple({ collection: "incidents", select: ["title"], filter: `_customerid_value eq ${accountId}` });
    expect(cases.value.length === 2, `${cases.value.length} cases stored`);
    return `${err.status} ${err.code}: ${err.message}`;
  }
  throw new Error("the third case was created");
});

await check("build a Monday-Friday 09:00-17:00 business-hours calendar", async () => {
  const cal = await api.create({ collection: "calendars", data: { name: `Support hours ${run}`, type: 1 } });
  const inner = await api.create({ collection: "calendars", data: { name: `Support day ${run}`, type: -1 } });
  await api.create({
    collection: "calendarrules",
    data: {
      "calendarid@odata.bind": `/calendars(${cal})`,
      "innercalendarid@odata.bind": `/calendars(${inner})`,
      pattern: "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR",
      offset: 0,
      duration: 1440,
    },
  });
  await api.create({
    collection: "calendarrules",
    data: { "calendarid@odata.bind": `/calendars(${inner})`, offset: 540, duration: 480, timecode: 0 },
  });
  slaId = await api.create({
    collection: "slas",
    data: {
      name: `Sixty minutes ${run}`,
      applicablefrom: "createdon",
      primaryentityotc: 112,
      slatype: 1,
      allowpauseresume: true,
      "businesshoursid@odata.bind": `/calendars(${cal})`,
    },
  });
  await api.create({
    collection: "slaitems",
    data: {
      name: "Resolve within 60 minutes",
      "slaid@odata.bind": `/slas(${slaId})`,
      relatedfield: "resolvebykpiid",
      failureafter: 60,
      warnafter: 30,
      applicablewhenxml: '<filter type="and"><condition attribute="statecode" operator="eq" value="0" /></filter>',
      successconditionsxml: '<filter type="and"><condition attribute="statecode" operator="eq" value="1" /></filter>',
    },
  });
  await api.update({ collection: "slas", key: slaId, data: { statecode: 1, statuscode: 2 } });
  return slaId;
});

await check("a case created Friday 16:45 fails Monday 09:45", async () => {
  const other = await api.create({ collection: "accounts", data: { name: `SLA customer ${run}` } });
  const caseId = await api.create({
    collection: "incidents",
    data: {
      title: `Friday afternoon ${run}`,
      "customerid_account@odata.bind": `/accounts(${other})`,
      "slaid@odata.bind": `/slas(${slaId})`,
    },
  });
  const c = await api.retrieve({
    collection: "incidents",
    key: caseId,
    select: ["createdon", "_resolvebykpiid_value", "resolveby", "resolvebyslastatus"],
  });
  expect(c._resolvebykpiid_value, "no resolve-by KPI on the case");
  const k = await api.retrieve({
    collection: "slakpiinstances",
    key: c._resolvebykpiid_value,
    select: ["warningtime", "failuretime", "status", "_regarding_value"],
  });
  // dynamics-web-api turns date strings into Date objects. The server's
  // clock runs on from 16:45:00, so allow the seconds the check took.
  const iso = (d) => new Date(d).toISOString();
  const created = iso(c.createdon);
  const warning = iso(k.warningtime);
  const failure = iso(k.failuretime);
  expect(created.startsWith("2026-01-09T16:45"), `createdon ${created}`);
  expect(k._regarding_value === caseId, `regarding ${k._regarding_value}`);
  expect(warning.startsWith("2026-01-12T09:15"), `warning ${warning}`);
  expect(failure.startsWith("2026-01-12T09:45"), `failure ${failure}`);
  expect(iso(c.resolveby) === failure, `case resolveby ${iso(c.resolveby)}`);
  expect(k.status === 0 && c.resolvebyslastatus === 1, `status ${k.status}, case ${c.resolvebyslastatus}: want In Progress`);
  return `created ${created}, warning ${warning}, failure ${failure}, In Progress`;
});

server.kill();
console.log(`dataverse-cs: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
