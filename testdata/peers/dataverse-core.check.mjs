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

// FetchXML on entity sets (use-fetchxml-web-api.md, fetchxml/*.md) and
// $apply (webapi/query/aggregate-data.md), through the library's own
// retrieveMultiple(fetchXml), fetch, fetchAll and apply options. 22 cases
// remain: priorities 1, 2, 3 hold 8, 7 and 7 of them.
const caseFetch = (attrs, extra = "") => `<fetch${extra}><entity name="incident">${attrs}` +
  `<filter><condition attribute="title" operator="begins-with" value="Peer case ${run}"/></filter>` +
  `<order attribute="title"/></entity></fetch>`;

await check("retrieveMultiple with fetchXml (filter, order, link-entity columns)", async () => {
  const res = await api.retrieveMultiple({
    collection: "incidents",
    fetchXml: `<fetch><entity name="incident"><attribute name="title"/><attribute name="prioritycode"/>` +
      `<link-entity name="account" from="accountid" to="customerid" link-type="inner" alias="acct"><attribute name="accountnumber"/></link-entity>` +
      `<filter type="and"><condition attribute="title" operator="begins-with" value="Peer case ${run}"/>` +
      `<filter type="or"><condition attribute="prioritycode" operator="eq" value="1"/><condition attribute="prioritycode" operator="eq" value="3"/></filter></filter>` +
      `<order attribute="title" descending="true"/></entity></fetch>`,
  });
  expect(res.value.length === 15, `rows ${res.value.length}, want 15`);
  expect(res.value.every((r) => r["acct.accountnumber"] === acctNumber), `linked column: ${JSON.stringify(res.value[0])}`);
  expect(res.value[0].title > res.value[14].title, "not ordered descending");
  expect(!("ticketnumber" in res.value[0]), "unselected column returned");
  return `${res.value.length} rows`;
});

await check("fetch one page with a paging cookie", async () => {
  const res = await api.fetch({
    collection: "incidents",
    fetchXml: caseFetch(`<attribute name="title"/>`, ` count="5"`),
    pageNumber: 1,
    includeAnnotations: "Microsoft.Dynamics.CRM.fetchxmlpagingcookie",
  });
  expect(res.value.length === 5, `rows ${res.value.length}`);
  expect(res.PagingInfo && res.PagingInfo.nextPage === 2 && res.PagingInfo.cookie, `PagingInfo ${JSON.stringify(res.PagingInfo)}`);
  return `next page ${res.PagingInfo.nextPage}`;
});

await check("fetchAll pages through every record with paging cookies", async () => {
  const res = await api.fetchAll({
    collection: "incidents",
    fetchXml: caseFetch(`<attribute name="title"/>`, ` count="5"`),
    includeAnnotations: "Microsoft.Dynamics.CRM.fetchxmlpagingcookie",
  });
  const titles = res.value.map((r) => r.title);
  expect(titles.length === 22, `rows ${titles.length}, want 22`);
  expect(new Set(titles).size === 22, "duplicate rows across pages");
  expect(titles.every((t, i) => i === 0 || titles[i - 1] < t), "pages out of order");
  return `${titles.length} rows`;
});

await check("FetchXML aggregate: count by priority", async () => {
  const res = await api.retrieveMultiple({
    collection: "incidents",
    fetchXml: `<fetch aggregate="true"><entity name="incident">` +
      `<attribute name="incidentid" alias="n" aggregate="count"/><attribute name="prioritycode" alias="p" groupby="true"/>` +
      `<filter><condition attribute="title" operator="begins-with" value="Peer case ${run}"/></filter>` +
      `<order alias="p"/></entity></fetch>`,
  });
  const got = res.value.map((r) => `${r.p}:${r.n}`).join(",");
  expect(got === "1:8,2:7,3:7", `groups ${got}`);
  return got;
});

await check("malformed FetchXML is refused with Dataverse's 400", async () => {
  const err = await expectStatus(api.retrieveMultiple({ collection: "incidents", fetchXml: `<fetch><entity name="incident">` }), 400);
  expect(/Invalid XML/.test(err.message), `message ${err.message}`);
  return err.message;
});

await check("$apply groupby with $count and filter", async () => {
  const res = await api.retrieveMultiple({
    collection: "incidents",
    apply: `filter(startswith(title,'Peer case ${run}'))/groupby((prioritycode),aggregate($count as n))`,
  });
  const got = res.value.map((r) => `${r.prioritycode}:${r.n}`).join(",");
  expect(got === "1:8,2:7,3:7", `groups ${got}`);
  return got;
});

await check("$apply aggregate over the whole filtered set", async () => {
  const res = await api.retrieveMultiple({
    collection: "incidents",
    apply: `filter(startswith(title,'Peer case ${run}'))/aggregate(prioritycode with countdistinct as kinds,createdon with max as last)`,
  });
  const r = res.value[0];
  expect(res.value.length === 1 && r.kinds === 3 && (typeof r.last === "string" || r.last instanceof Date), `aggregate ${JSON.stringify(r)}`);
  return `${r.kinds} priorities, last created ${new Date(r.last).toISOString()}`;
});

console.log(`dataverse-core: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
