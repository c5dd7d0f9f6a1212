// Drives the dvsync reference Dataverse's $batch and change tracking with
// the real `dynamics-web-api` npm client (AleksandrRogov/DynamicsWebApi): a
// batch with a change set using Content-ID references, a batch with a
// failing operation with and without continue-on-error, an atomic change
// set that rolls back, and a change-tracking round trip (trackChanges, then
// a delta after creates, updates and deletes). One line per operation; exit
// 1 on any mismatch. Env: DATAVERSE_URL (service root), DVSYNC_TOKEN.
import { DynamicsWebApi } from "dynamics-web-api";

const root = new URL(process.env.DATAVERSE_URL);
const token = process.env.DVSYNC_TOKEN || "peer-check";
const api = new DynamicsWebApi({
  serverUrl: root.origin,
  dataApi: { version: "9.2" },
  onTokenRefresh: async () => token,
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
    const msg = Array.isArray(err) ? `rejected with ${err.length} results: ${err.map((e) => e && (e.status || e.message)).join(", ")}` : err && err.message ? err.message : err;
    console.log(`FAIL ${name}: ${msg}`);
  }
}
function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}
const isGuid = (v) => typeof v === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);

const run = Date.now().toString(36);
async function countAccounts(name) {
  const res = await api.retrieveMultiple({ collection: "accounts", select: ["name"], filter: `name eq '${name}'` });
  return res.value.length;
}

await check("batch: change set with Content-ID references, then a GET", async () => {
  api.startBatch();
  api.create({ collection: "contacts", data: { firstname: "Batch", lastname: `Peer ${run}` }, contentId: "1" });
  api.create({ collection: "accounts", data: { name: `Batch Account ${run}`, "primarycontactid@odata.bind": "$1" }, contentId: "2" });
  api.update({ contentId: "$2", data: { telephone1: "555-0199" } });
  api.retrieveMultiple({ collection: "accounts", select: ["name", "telephone1", "_primarycontactid_value"], filter: `name eq 'Batch Account ${run}'` });
  const results = await api.executeBatch();
  expect(Array.isArray(results) && results.length === 4, `results ${JSON.stringify(results)}`);
  const [contactId, accountId] = results;
  expect(isGuid(contactId) && isGuid(accountId), `ids ${contactId} ${accountId}`);
  const rows = results[3].value;
  expect(rows.length === 1 && rows[0].accountid === accountId, `GET in batch: ${JSON.stringify(rows)}`);
  expect(rows[0].telephone1 === "555-0199", `PATCH $2 not applied: ${rows[0].telephone1}`);
  expect(rows[0]._primarycontactid_value === contactId, `bind $1: ${rows[0]._primarycontactid_value}`);
  return `contact ${contactId}, account ${accountId}`;
});

await check("batch: failing change set rolls back every operation", async () => {
  const name = `Atomic ${run}`;
  api.startBatch();
  api.create({ collection: "accounts", data: { name } });
  api.create({ collection: "accounts", data: { name: `${name} bad`, nosuchcolumn: 1 } });
  let rejected;
  try {
    await api.executeBatch();
  } catch (err) {
    rejected = err;
  }
  expect(Array.isArray(rejected), `want the batch rejected with its results, got ${rejected}`);
  expect(rejected.length === 1 && rejected[0].status === 400, `results ${JSON.stringify(rejected)}`);
  const msg = (rejected[0].error && rejected[0].error.message) || rejected[0].message || "";
  expect(msg.includes("nosuchcolumn"), `error message ${JSON.stringify(rejected[0])}`);
  expect((await countAccounts(name)) === 0, "the first create of the change set was kept");
  return `400: ${msg}`;
});

const independent = (tag) => {
  api.startBatch();
  api.create({ collection: "accounts", data: { name: `${tag}-1` }, inChangeSet: false });
  api.create({ collection: "accounts", data: { name: `${tag}-2`, nosuchcolumn: true }, inChangeSet: false });
  api.create({ collection: "accounts", data: { name: `${tag}-3` }, inChangeSet: false });
};

await check("batch: stops at the first failure by default", async () => {
  const tag = `Stop ${run}`;
  independent(tag);
  let rejected;
  try {
    await api.executeBatch();
  } catch (err) {
    rejected = err;
  }
  expect(Array.isArray(rejected), `want the batch rejected with its results, got ${rejected}`);
  expect(rejected.length === 2 && isGuid(rejected[0]) && rejected[1].status === 400, `results ${JSON.stringify(rejected)}`);
  expect((await countAccounts(`${tag}-1`)) === 1, "operation before the failure missing");
  expect((await countAccounts(`${tag}-3`)) === 0, "operation after the failure ran");
  return "outer 400, third operation not run";
});

await check("batch: continueOnError runs every operation", async () => {
  const tag = `Continue ${run}`;
  independent(tag);
  const results = await api.executeBatch({ continueOnError: true });
  expect(results.length === 3, `results ${JSON.stringify(results)}`);
  expect(isGuid(results[0]) && isGuid(results[2]), `ids ${results[0]} ${results[2]}`);
  expect(results[1] instanceof Error && results[1].status === 400, `second ${JSON.stringify(results[1])}`);
  expect((await countAccounts(`${tag}-3`)) === 1, "third operation missing");
  return "200 with 204, 400, 204";
});

await check("change tracking: trackChanges, then a delta after changes", async () => {
  const prefix = `Track ${run}`;
  const keep = await api.create({ collection: "accounts", data: { name: `${prefix} keep` } });
  const drop = await api.create({ collection: "accounts", data: { name: `${prefix} drop` } });
  // Initial read: every page, then the delta link.
  let page = await api.retrieveMultiple({ collection: "accounts", select: ["name"], trackChanges: true, maxPageSize: 50 });
  let pages = 1;
  while (page.oDataNextLink) {
    page = await api.retrieveMultiple({ collection: "accounts", select: ["name"], trackChanges: true, maxPageSize: 50 }, page.oDataNextLink);
    pages++;
  }
  const deltaLink = page.oDataDeltaLink;
  expect(deltaLink && deltaLink.includes("$deltatoken="), `no delta link: ${JSON.stringify(Object.keys(page))}`);

  await api.update({ collection: "accounts", key: keep, data: { name: `${prefix} kept` } });
  await api.deleteRecord({ collection: "accounts", key: drop });
  const added = await api.create({ collection: "accounts", data: { name: `${prefix} added` } });

  const delta = await api.retrieveMultiple({ collection: "accounts", select: ["name"], trackChanges: true }, deltaLink);
  const changed = delta.value.filter((v) => !String(v["@odata.context"] || "").endsWith("$deletedEntity"));
  const deleted = delta.value.filter((v) => String(v["@odata.context"] || "").endsWith("$deletedEntity"));
  const changedIds = changed.map((v) => v.accountid).sort();
  expect(JSON.stringify(changedIds) === JSON.stringify([keep, added].sort()), `changed ${JSON.stringify(changed)}`);
  expect(changed.find((v) => v.accountid === keep).name === `${prefix} kept`, "update not in delta");
  expect(deleted.length === 1 && deleted[0].id === drop && deleted[0].reason === "deleted", `deleted ${JSON.stringify(deleted)}`);
  expect(delta.oDataDeltaLink && delta.oDataDeltaLink !== deltaLink, "no fresh delta link");

  const empty = await api.retrieveMultiple({ collection: "accounts", select: ["name"], trackChanges: true }, delta.oDataDeltaLink);
  expect(empty.value.length === 0, `changes after catching up: ${JSON.stringify(empty.value)}`);
  return `initial read in ${pages} page(s); delta: 2 changed, 1 deleted`;
});

console.log(`dataverse-batch: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
