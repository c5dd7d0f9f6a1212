// Drives the reference Odoo server over JSON-RPC (POST /jsonrpc, service
// "object", execute_kw) with @fernandoslim/odoo-jsonrpc and an API key.
// Prints one line per operation and exits non-zero on the first mismatch.
import pkg from '@fernandoslim/odoo-jsonrpc';

const OdooJSONRpc = pkg.default ?? pkg.OdooJSONRpc ?? pkg;
const url = new URL(process.env.ODOO_URL ?? 'http://127.0.0.1:8069/');
const key = process.env.ODOO_API_KEY ?? 'admin';
const stamp = `${process.pid}-${Date.now()}`;

let failures = 0;
function report(op, ok, detail) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} jsonrpc ${op}: ${detail}`);
  if (!ok) failures++;
}
async function step(op, fn) {
  try {
    const [ok, detail] = await fn();
    report(op, ok, detail);
  } catch (err) {
    report(op, false, `unexpected error: ${err?.message ?? err}`);
  }
}
const config = (apiKey) => ({ baseUrl: `${url.protocol}//${url.hostname}`, port: Number(url.port), db: 'dvsync', username: 'admin', apiKey });

const odoo = new OdooJSONRpc(config(key));
let companyId, contactId;

await step('authenticate', async () => {
  const res = await odoo.connect();
  return [res.uid === 2 && odoo.uId === 2, `uid=${res.uid}`];
});

await step('authenticate with a wrong key', async () => {
  const bad = new OdooJSONRpc(config('not-the-key'));
  const res = await bad.connect();
  try {
    await bad.searchRead('res.partner', [], ['name']);
    return [false, 'calls were accepted'];
  } catch (err) {
    return [res.uid === false, `authenticate returned ${res.uid}; then: ${err.message}`];
  }
});

await step('create', async () => {
  companyId = await odoo.create('res.partner', { name: `Peer JSONRPC ${stamp}`, email: 'jsonrpc@peer.example', is_company: true });
  contactId = await odoo.create('res.partner', { name: `Contact 100% ${stamp}`, parent_id: companyId, email: 'contact@peer.example' });
  return [Number.isInteger(companyId) && Number.isInteger(contactId), `ids ${companyId}, ${contactId}`];
});

await step('search_read with a domain', async () => {
  const rows = await odoo.searchRead('res.partner',
    ['&', ['id', 'child_of', companyId], ['name', 'ilike', `100\\% ${stamp}`]],
    ['name', 'parent_id', 'email'], { order: 'id desc', limit: 10 });
  const ok = rows.length === 1 && rows[0].id === contactId && rows[0].parent_id[0] === companyId && rows[0].email === 'contact@peer.example';
  return [ok, `${rows.length} rows: ${JSON.stringify(rows.map((r) => [r.id, r.name]))}`];
});

await step('read', async () => {
  const [row] = await odoo.read('res.partner', [contactId], ['name', 'phone', 'is_company', 'create_date']);
  const ok = row.id === contactId && row.phone === false && row.is_company === false && /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(row.create_date);
  return [ok, `phone=${row.phone} create_date=${row.create_date}`];
});

await step('write', async () => {
  const done = await odoo.update('res.partner', contactId, { phone: '+1 555 0199', is_company: false });
  const [row] = await odoo.read('res.partner', [contactId], ['phone']);
  return [done === true && row.phone === '+1 555 0199', `write=${done} phone=${row.phone}`];
});

await step('search_count', async () => {
  const n = await odoo.call_kw('res.partner', 'search_count', [[['parent_id', '=', companyId]]]);
  return [n === 1, `count=${n}`];
});

await step('access error', async () => {
  try {
    await odoo.searchRead('res.users.apikeys', [], ['name']);
    return [false, 'read of res.users.apikeys was allowed'];
  } catch (err) {
    return [/You are not allowed to read/.test(err.message), err.message.split('\n')[0]];
  }
});

await step('invalid field', async () => {
  try {
    await odoo.update('res.partner', contactId, { no_such_field: 1 });
    return [false, 'write of an unknown field succeeded'];
  } catch (err) {
    return [/Invalid field/.test(err.message), err.message];
  }
});

await step('web session login and call_kw', async () => {
  // Password mode: /web/session/authenticate, then /web/dataset/call_kw
  // with the session cookie (the admin API key doubles as the password).
  const web = new OdooJSONRpc({ baseUrl: `${url.protocol}//${url.hostname}`, port: Number(url.port), db: 'dvsync', username: 'admin', password: key });
  const info = await web.connect();
  const rows = await web.searchRead('res.partner', [['id', '=', contactId]], ['name', 'phone']);
  return [info.uid === 2 && !!web.sessionId && rows.length === 1 && rows[0].phone === '+1 555 0199', `uid=${info.uid} session=${web.sessionId ? 'set' : 'missing'} rows=${rows.length}`];
});

await step('helpdesk teams (seed)', async () => {
  const rows = await odoo.searchRead('helpdesk.team', [], ['name'], { order: 'sequence asc' })
    .catch(async () => odoo.searchRead('helpdesk.ticket.team', [], ['name'], { order: 'sequence asc' }));
  if (rows.length === 0) return [true, 'no seeded teams on this server'];
  return [typeof rows[0].name === 'string', `${rows.length} teams: ${rows.map((r) => r.name).join(', ')}`];
});

process.exit(failures === 0 ? 0 : 1);
