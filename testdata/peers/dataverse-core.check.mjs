// Drives the dvsync reference Dataverse with the real `dynamics-web-api`
// npm client (AleksandrRogov/DynamicsWebApi): create, retrieve,
// retrieveMultiple with maxPageSize paging across several pages,
// $filter/$orderby/$expand, upsert by alternate key with ifmatch and
// ifnonematch, delete and count. One line per operation; exit 1 on any
// mismatch. Env: DATAVERSE_URL (service root), DVSYNC_TOKEN.
import { DynamicsWebApi } from "dynamics-web-api";

const root = new URL(process.env.DATAVERSE_URL);
const token = process.env.DVSYNC_TOKEN || "peer-check";
const api = new DynamicsWebApi({
  serverUrl: root.origin,
  dataApi: { version: "9.2" },
  onTokenRefresh: async () => token,
  // Without this the library turns 412/404 on conditional writes into
  // null/false return values (its legacy behaviour); we want the statuses.
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
async function expectStatus(promise, status) {
  try {
    await promise;
  } catch (err) {
    expect(err.status === status, `status ${err.status}, want ${status}: ${err.message}`);
    return err;
  }
  throw new Error(`succeeded, want HTTP ${status}`);
}

const run = Date.now().toString(36);
const acctNumber = `PEER-${run}`;
let accountId, contactId;
const caseIds = [];

await check("create account (return representation)", async () => {
  const rec = await api.create({
    collection: "accounts",
    data: { name: `Peer Check ${run}`, accountnumber: acctNumber, numberofemployees: 42 },
    returnRepresentation: true,
    select: ["name", "accountnumber"],
  });
  expect(rec && rec.accountid, "no accountid in representation");
  expect(rec.accountnumber === acctNumber, `accountnumber ${rec.accountnumber}`);
  accountId = rec.accountid;
  return accountId;
});

await check("create contact bound to the account", async () => {
  contactId = await api.create({
    collection: "contacts",
    data: {
      firstname: "Peer",
      lastname: `Tester ${run}`,
      "parentcustomerid_account@odata.bind": `/accounts(${accountId})`,
    },
  });
  expect(/^[0-9a-f-]{36}$/.test(contactId), `create returned ${contactId}`);
  return contactId;
});

await check("create 23 cases (polymorphic customer by alternate key)", async () => {
  for (let i = 0; i < 23; i++) {
    const id = await api.create({
      collection: "incidents",
      data: {
        title: `Peer case ${run} ${String(i).padStart(2, "0")}`,
        prioritycode: (i % 3) + 1,
        "customerid_account@odata.bind": `/accounts(accountnumber='${acctNumber}')`,
      },
    });
    caseIds.push(id);
  }
  expect(caseIds.length === 23, "not all cases created");
  return `${caseIds.length} ids`;
});

await check("retrieve with select and expand", async () => {
  const rec = await api.retrieve({
    collection: "incidents",
    key: caseIds[0],
    select: ["title", "ticketnumber", "_customerid_value"],
    expand: [{ property: "customerid_account", select: ["name", "accountnumber"] }],
  });
  expect(rec.title.endsWith(" 00"), `title ${rec.title}`);
  expect(rec._customerid_value === accountId, `customer ${rec._customerid_value}`);
  expect(rec.customerid_account && rec.customerid_account.accountnumber === acctNumber, "expanded account missing");
  expect(/^CAS-/.test(rec.ticketnumber), `ticketnumber ${rec.ticketnumber}`);
  return rec.ticketnumber;
});

await check("retrieve by alternate key", async () => {
  const rec = await api.retrieve({ collection: "accounts", key: `accountnumber='${acctNumber}'`, select: ["name"] });
  expect(rec.accountid === accountId, `accountid ${rec.accountid}`);
});

await check("retrieveMultiple paging with maxPageSize=5 ($filter, $orderby)", async () => {
  const request = {
    collection: "incidents",
    select: ["title", "prioritycode"],
    filter: `startswith(title,'Peer case ${run}')`,
    orderBy: ["title desc"],
    maxPageSize: 5,
  };
  let page = await api.retrieveMultiple(request);
  const titles = page.value.map((r) => r.title);
  let pages = 1;
  while (page.oDataNextLink) {
    expect(page.value.length === 5, `page ${pages} has ${page.value.length} rows`);
    page = await api.retrieveMultiple(request, page.oDataNextLink);
    titles.push(...page.value.map((r) => r.title));
    pages++;
  }
  expect(pages === 5, `pages ${pages}, want 5`);
  expect(titles.length === 23 && new Set(titles).size === 23, `rows ${titles.length} unique ${new Set(titles).size}`);
  const sorted = [...titles].sort().reverse();
  expect(JSON.stringify(sorted) === JSON.stringify(titles), "not ordered by title desc");
  return `${titles.length} rows in ${pages} pages`;
});

await check("retrieveAll with maxPageSize=4 and formatted values", async () => {
  const all = await api.retrieveAll({
    collection: "incidents",
    select: ["title", "prioritycode"],
    filter: `startswith(title,'Peer case ${run}') and prioritycode eq 1`,
    maxPageSize: 4,
    includeAnnotations: "OData.Community.Display.V1.FormattedValue",
  });
  expect(all.value.length === 8, `rows ${all.value.length}, want 8`);
  const fv = all.value[0]["prioritycode@OData.Community.Display.V1.FormattedValue"];
  expect(fv === "High", `formatted value ${fv}`);
  return `${all.value.length} rows`;
});

await check("count with filter", async () => {
  const n = await api.count({ collection: "incidents", filter: `startswith(title,'Peer case ${run}')` });
  expect(n === 23, `count ${n}`);
  return String(n);
});

await check("upsert by alternate key creates (ifnonematch *)", async () => {
  await api.upsert({ collection: "accounts", key: `accountnumber='${acctNumber}-U'`, data: { name: "Upserted" }, ifnonematch: "*" });
  const rec = await api.retrieve({ collection: "accounts", key: `accountnumber='${acctNumber}-U'`, select: ["name"] });
  expect(rec.name === "Upserted", `name ${rec.name}`);
});

await check("upsert with ifnonematch * on an existing record is refused (412)", async () => {
  const err = await expectStatus(api.upsert({ collection: "accounts", key: `accountnumber='${acctNumber}-U'`, data: { name: "x" }, ifnonematch: "*" }), 412);
  const rec = await api.retrieve({ collection: "accounts", key: `accountnumber='${acctNumber}-U'`, select: ["name"] });
  expect(rec.name === "Upserted", `refused upsert changed the record: ${rec.name}`);
  return err.message;
});

await check("upsert with ifmatch * updates an existing record", async () => {
  await api.upsert({ collection: "accounts", key: `accountnumber='${acctNumber}-U'`, data: { name: "Upserted twice" }, ifmatch: "*" });
  const rec = await api.retrieve({ collection: "accounts", key: `accountnumber='${acctNumber}-U'`, select: ["name"] });
  expect(rec.name === "Upserted twice", `name ${rec.name}`);
});

await check("upsert with ifmatch * on a missing record is refused (404)", async () => {
  await expectStatus(api.upsert({ collection: "accounts", key: `accountnumber='${acctNumber}-MISSING'`, data: { name: "x" }, ifmatch: "*" }), 404);
  const n = await api.count({ collection: "accounts", filter: `accountnumber eq '${acctNumber}-MISSING'` });
  expect(n === 0, `refused upsert created ${n} records`);
});

await check("update with a stale etag is refused (412), with the current one applied", async () => {
  const fresh = await api.retrieve({ collection: "accounts", key: accountId, select: ["name"] });
  await expectStatus(api.update({ collection: "accounts", key: accountId, data: { name: "stale" }, ifmatch: 'W/"1"' }), 412);
  await api.update({ collection: "accounts", key: accountId, data: { name: "fresh" }, ifmatch: fresh["@odata.etag"] });
  const after = await api.retrieve({ collection: "accounts", key: accountId, select: ["name"] });
  expect(after.name === "fresh", `update with the current etag: ${after.name}`);
});

await check("validation error carries Dataverse's payload", async () => {
  const err = await expectStatus(api.create({ collection: "incidents", data: { title: "x", prioritycode: 99, "customerid_account@odata.bind": `/accounts(${accountId})` } }), 400);
  expect(/outside the valid range/.test(err.message), `message ${err.message}`);
  return err.message;
});

await check("delete, then retrieve gives 404", async () => {
  await api.deleteRecord({ collection: "incidents", key: caseIds[22] });
  await expectStatus(api.retrieve({ collection: "incidents", key: caseIds[22] }), 404);
  const n = await api.count({ collection: "incidents", filter: `startswith(title,'Peer case ${run}')` });
  expect(n === 22, `count after delete ${n}`);
});

console.log(`dataverse-core: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
