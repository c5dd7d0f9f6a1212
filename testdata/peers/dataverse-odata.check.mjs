// Drives the dvsync reference Dataverse with a generic OData v4 client that
// knows nothing about Dataverse: @odata/client (Soontao/light-odata). It
// reads $metadata for the operations and navigation properties the service
// declares, then queries with $select/$filter/$orderby/$top, expands a
// collection-valued navigation property, deep-inserts related records, and
// calls the functions and actions $metadata declares. One line per
// operation; exit 1 on any mismatch. Env: DATAVERSE_URL, DVSYNC_TOKEN.
import { OData, RawValue } from "@odata/client";

const root = process.env.DATAVERSE_URL; // …/api/data/v9.2/
const token = process.env.DVSYNC_TOKEN || "peer-check";
const headers = {
  Accept: "application/json",
  "Content-Type": "application/json",
  Authorization: `Bearer ${token}`,
  "OData-MaxVersion": "4.0",
  "OData-Version": "4.0",
  // The client reads the created entity from the response body.
  Prefer: "return=representation",
};
const client = OData.New4({ serviceEndpoint: root, commonHeaders: headers });

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
let csdl = "";
const declared = { functions: new Set(), actions: new Set(), sets: new Set(), accountCollections: new Set() };

await check("$metadata declares entity sets, operations and collection navigation", async () => {
  const res = await fetch(root + "$metadata", { headers: { Authorization: headers.Authorization } });
  expect(res.status === 200, `status ${res.status}`);
  csdl = await res.text();
  for (const m of csdl.matchAll(/<EntitySet Name="([^"]+)"/g)) declared.sets.add(m[1]);
  for (const m of csdl.matchAll(/<FunctionImport Name="([^"]+)"/g)) declared.functions.add(m[1]);
  for (const m of csdl.matchAll(/<ActionImport Name="([^"]+)"/g)) declared.actions.add(m[1]);
  const account = /<EntityType Name="account"[^>]*>([\s\S]*?)<\/EntityType>/.exec(csdl);
  expect(account, "no account entity type");
  for (const m of account[1].matchAll(/<NavigationProperty Name="([^"]+)" Type="Collection\(/g)) declared.accountCollections.add(m[1]);
  for (const want of ["WhoAmI", "RetrieveVersion", "RetrieveTotalRecordCount"]) expect(declared.functions.has(want), `function ${want} not declared`);
  expect(declared.actions.has("CloseIncident"), "CloseIncident not declared");
  expect(declared.accountCollections.has("contact_customer_accounts"), "contact_customer_accounts not declared");
  expect(declared.accountCollections.has("incident_customer_accounts"), "incident_customer_accounts not declared");
  return `${declared.sets.size} sets, ${declared.functions.size} functions, ${declared.actions.size} actions, ${declared.accountCollections.size} collections on account`;
});

const accounts = client.getEntitySet("accounts");
let accountId;

await check("create with deep insert of a collection-valued navigation property", async () => {
  const rec = await accounts.create({
    name: `OData Peer ${run}`,
    numberofemployees: 7,
    contact_customer_accounts: [
      { firstname: "Olga", lastname: `Alpha ${run}` },
      { firstname: "Otto", lastname: `Beta ${run}` },
    ],
  });
  expect(rec && rec.accountid, `created: ${JSON.stringify(rec)}`);
  accountId = rec.accountid;
  return accountId;
});

await check("query with $select, $filter, $orderby, $top", async () => {
  const params = client.newParam().select(["name", "numberofemployees"]).filter(`name eq 'OData Peer ${run}'`).orderby("name").top(5);
  const rows = await accounts.query(params);
  expect(rows.length === 1 && rows[0].numberofemployees === 7, `rows ${JSON.stringify(rows)}`);
  expect(!("telephone1" in rows[0]), "unselected column returned");
});

await check("$expand a collection with nested $select/$filter/$orderby", async () => {
  const params = client.newParam().select(["name"]).filter(`accountid eq ${accountId}`)
    .expand(`contact_customer_accounts($select=lastname;$filter=startswith(lastname,'Beta');$orderby=lastname)`);
  const rows = await accounts.query(params);
  const related = rows[0] && rows[0].contact_customer_accounts;
  expect(Array.isArray(related) && related.length === 1 && related[0].lastname === `Beta ${run}`, `expanded ${JSON.stringify(rows)}`);
});

await check("retrieve one entity with an expanded collection", async () => {
  const rec = await accounts.retrieve(accountId, client.newParam().select(["name"]).expand("contact_customer_accounts($select=lastname)"));
  expect(rec.contact_customer_accounts.length === 2, `related ${JSON.stringify(rec)}`);
});

await check("filter with the any lambda operator", async () => {
  const rows = await accounts.query(client.newParam().select(["name"]).filter(`contact_customer_accounts/any(c:c/lastname eq 'Alpha ${run}')`));
  expect(rows.length === 1 && rows[0].accountid === accountId, `rows ${JSON.stringify(rows)}`);
});

await check("count with a filter", async () => {
  const n = await accounts.count(client.newFilter().field("name").eq(`OData Peer ${run}`));
  expect(Number(n) === 1, `count ${n}`);
  return String(n);
});

await check("function import WhoAmI", async () => {
  const res = await client.functionImport("WhoAmI");
  expect(res && /^[0-9a-f-]{36}$/.test(res.UserId), `WhoAmI ${JSON.stringify(res)}`);
});

await check("function import RetrieveVersion", async () => {
  const res = await client.functionImport("RetrieveVersion");
  expect(res && /^9\.2/.test(res.Version), `RetrieveVersion ${JSON.stringify(res)}`);
  return res.Version;
});

await check("function import RetrieveTotalRecordCount with a collection parameter", async () => {
  const res = await client.functionImport("RetrieveTotalRecordCount", { EntityNames: RawValue.from("['account','contact']") });
  const c = res && res.EntityRecordCountCollection;
  expect(c && c.Keys.join() === "account,contact" && c.Values.every((v) => v >= 1), `counts ${JSON.stringify(res)}`);
  return c.Values.join("/");
});

await check("action import CloseIncident resolves a case", async () => {
  const cases = client.getEntitySet("incidents");
  const inc = await cases.create({ title: `OData case ${run}`, "customerid_account@odata.bind": `/accounts(${accountId})` });
  expect(inc && inc.incidentid, `case ${JSON.stringify(inc)}`);
  await client.actionImport("CloseIncident", {
    IncidentResolution: { subject: "Solved by the OData peer", "incidentid@odata.bind": `/incidents(${inc.incidentid})` },
    Status: 5,
  });
  const after = await cases.retrieve(inc.incidentid, client.newParam().select(["statecode", "statuscode"]));
  expect(after.statecode === 1 && after.statuscode === 5, `after CloseIncident ${JSON.stringify(after)}`);
});

await check("an undeclared function is refused", async () => {
  let res;
  try {
    res = await client.functionImport("NoSuchFunction");
  } catch (err) {
    return err.message;
  }
  expect(res && res.error && res.error.code, `answered ${JSON.stringify(res)}`);
  return res.error.message;
});

console.log(`dataverse-odata: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
