// Walks one customer's contract through the dvsync reference Dataverse's
// Customer Service engine with the real `dynamics-web-api` npm client:
// an entitlement of 2 cases that restricts case creation accepts two cases
// and refuses the third with Dataverse's error payload; an SLA of 60
// minutes with a 30-minute warning on a Monday-Friday 09:00-17:00
// business-hours calendar gives a case created on Friday at 16:45 a
// warning time of Monday 09:15 and a failure time of Monday 09:45.
// One line per operation; exit 1 on any mismatch.
// Env: DATAVERSE_URL (service root), DVSYNC_TOKEN.
import { DynamicsWebApi } from "dynamics-web-api";

const root = new URL(process.env.DATAVERSE_URL);
const token = process.env.DVSYNC_TOKEN || "peer-check";
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
const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10) + "T00:00:00Z";
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
      startdate: day(-30),
      enddate: day(335),
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
      // Record Created On: the SLA counts from createdon, which a
      // migration may set to the source's time.
      overriddencreatedon: "2026-01-09T16:45:00Z",
    },
  });
  const c = await api.retrieve({ collection: "incidents", key: caseId, select: ["_resolvebykpiid_value", "resolveby", "resolvebyslastatus"] });
  expect(c._resolvebykpiid_value, "no resolve-by KPI on the case");
  const k = await api.retrieve({
    collection: "slakpiinstances",
    key: c._resolvebykpiid_value,
    select: ["warningtime", "failuretime", "status", "_regarding_value"],
  });
  expect(k._regarding_value === caseId, `regarding ${k._regarding_value}`);
  // dynamics-web-api turns date strings into Date objects.
  const iso = (d) => new Date(d).toISOString();
  const warning = iso(k.warningtime);
  const failure = iso(k.failuretime);
  expect(warning === "2026-01-12T09:15:00.000Z", `warning ${warning}`);
  expect(failure === "2026-01-12T09:45:00.000Z", `failure ${failure}`);
  expect(iso(c.resolveby) === failure, `case resolveby ${iso(c.resolveby)}`);
  // The server's clock is past that Monday unless it was started earlier
  // with --clock: the KPI is Noncompliant then, and the case shows it.
  const now = Date.now() >= Date.parse(failure);
  if (now) {
    expect(k.status === 1 && c.resolvebyslastatus === 4, `status ${k.status}, case ${c.resolvebyslastatus}`);
  }
  return `warning ${warning}, failure ${failure}, status ${k.status}`;
});

console.log(`dataverse-cs: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
