#!/usr/bin/env python3
"""Drives the reference Odoo over XML-RPC with Python's standard
xmlrpc.client, following the examples of Odoo's External API documentation
as written (odoo/documentation content/developer/reference/external_api.rst,
16.0-18.0; external_rpc_api.rst from 19.0): common.version and
common.authenticate, check_access_rights, search (with offset/limit),
search_count, read (all fields, then a field list), fields_get with
attributes, search_read, create, write, the display name (name_get on 16,
read of display_name from 17), unlink, a custom model and field through
ir.model and ir.model.fields, plus read_group/formatted_read_group and a
datetime domain, which xmlrpc.client sends as <dateTime.iso8601>.

Only the standard library. Prints one line per operation and exits non-zero
on the first run with a mismatch. ODOO_URL and ODOO_API_KEY come from
run.sh (or the Go test that runs this script against every version).
"""
import datetime
import os
import sys
import xmlrpc.client

url = os.environ.get("ODOO_URL", "http://127.0.0.1:8069/").rstrip("/")
db = "dvsync"
username = "admin"
password = os.environ.get("ODOO_API_KEY", "admin")

failures = 0


def report(op, ok, detail):
    global failures
    print(f"{'ok  ' if ok else 'FAIL'} external-api {op}: {detail}")
    if not ok:
        failures += 1


def step(op, fn):
    try:
        ok, detail = fn()
    except xmlrpc.client.Fault as e:
        ok, detail = False, f"fault {e.faultCode}: {e.faultString.strip().splitlines()[-1]}"
    except Exception as e:  # noqa: BLE001 - any failure is a mismatch to report
        ok, detail = False, f"{type(e).__name__}: {e}"
    report(op, ok, detail)


# "Logging in": the common endpoint, version() needs no authentication.
common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
version = common.version()
major = version["server_version_info"][0]
report("common.version", isinstance(major, int) and version["protocol_version"] == 1, version["server_version"])

uid = common.authenticate(db, username, password, {})
report("common.authenticate", uid == 2, f"uid={uid}")
report("common.authenticate with a wrong password", common.authenticate(db, username, "wrong", {}) is False, "False")

models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object")


def execute_kw(model, method, args, kwargs=None):
    if kwargs is None:
        return models.execute_kw(db, uid, password, model, method, args)
    return models.execute_kw(db, uid, password, model, method, args, kwargs)


# "Calling methods": check_access_rights with raise_exception False.
step("check_access_rights", lambda: (
    execute_kw("res.partner", "check_access_rights", ["read"], {"raise_exception": False}) is True, "True"))

# "List records", "Pagination", "Count records".
companies = execute_kw("res.partner", "search", [[["is_company", "=", True]]])
step("search is_company", lambda: (len(companies) > 0 and all(isinstance(i, int) for i in companies), f"{len(companies)} ids"))
page = execute_kw("res.partner", "search", [[["is_company", "=", True]]], {"offset": 1, "limit": 2})
step("search with offset and limit", lambda: (page == companies[1:3], f"{page}"))
count = execute_kw("res.partner", "search_count", [[["is_company", "=", True]]])
step("search_count", lambda: (count == len(companies), f"{count}"))

# "Read records": every field, then the documented field list.
ids = execute_kw("res.partner", "search", [[["is_company", "=", True]]], {"limit": 1})
[record] = execute_kw("res.partner", "read", [ids])
step("read all fields", lambda: (record["id"] == ids[0] and len(record) > 10, f"{len(record)} fields"))
[small] = execute_kw("res.partner", "read", [ids], {"fields": ["name", "country_id", "comment"]})
step("read name, country_id, comment", lambda: (
    set(small) == {"id", "name", "country_id", "comment"} and (small["comment"] is False or isinstance(small["comment"], str)),
    f"{sorted(small)}"))

# "Listing record fields".
fields = execute_kw("res.partner", "fields_get", [], {"attributes": ["string", "help", "type"]})
step("fields_get with attributes", lambda: (
    fields["country_id"]["type"] == "many2one" and set(fields["name"]) <= {"string", "help", "type"},
    f"{len(fields)} fields; name={fields['name']}"))

# "Search and read".
rows = execute_kw("res.partner", "search_read", [[["is_company", "=", True]]], {"fields": ["name", "country_id", "comment"], "limit": 5})
step("search_read", lambda: (
    0 < len(rows) <= 5 and all(set(r) == {"id", "name", "country_id", "comment"} for r in rows), f"{len(rows)} rows"))

# "Create records", "Update records".
new_id = execute_kw("res.partner", "create", [{"name": "New Partner"}])
step("create", lambda: (isinstance(new_id, int) and new_id > 0, f"id={new_id}"))
written = execute_kw("res.partner", "write", [[new_id], {"name": "Newer partner"}])
step("write", lambda: (written is True, f"{written}"))
if major <= 16:
    names = execute_kw("res.partner", "name_get", [[new_id]])
    step("name_get (16)", lambda: (names == [[new_id, "Newer partner"]], f"{names}"))
else:
    names = execute_kw("res.partner", "read", [[new_id], ["display_name"]])
    step("read display_name (17+)", lambda: (names == [{"id": new_id, "display_name": "Newer partner"}], f"{names}"))
if major >= 18:
    def gone():
        try:
            execute_kw("res.partner", "name_get", [[new_id]])
            return False, "name_get still answers"
        except xmlrpc.client.Fault as e:
            return "does not exist" in e.faultString, "name_get is gone"
    step("name_get is gone (18+)", gone)

# A datetime domain: xmlrpc.client marshals datetime objects as
# <dateTime.iso8601>; Odoo parses them (use_datetime=True) and compares
# them with write_date, a naive UTC timestamp.
now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
past = now - datetime.timedelta(days=3650)
future = now + datetime.timedelta(days=3650)
recent = execute_kw("res.partner", "search", [[["id", "=", new_id], ["write_date", ">=", past]]])
step("datetime domain (>= ten years ago)", lambda: (recent == [new_id], f"{recent}"))
later = execute_kw("res.partner", "search", [[["id", "=", new_id], ["write_date", ">", future]]])
step("datetime domain (> in ten years)", lambda: (later == [], f"{later}"))
execute_kw("res.partner", "write", [[new_id], {"date": datetime.datetime(2026, 3, 1, 10, 30)}])
[dated] = execute_kw("res.partner", "read", [[new_id], ["date", "write_date"]])
step("write a datetime to a date field", lambda: (
    dated["date"] == "2026-03-01" and isinstance(dated["write_date"], str) and len(dated["write_date"]) == 19,
    f"date={dated['date']!r} write_date={dated['write_date']!r}"))

# Aggregates: read_group (deprecated in 19 but still there), and 19's
# formatted_read_group.
groups = execute_kw("res.partner", "read_group", [[], ["is_company"], ["is_company"]], {"lazy": False})
total = execute_kw("res.partner", "search_count", [[]])
step("read_group", lambda: (sum(g["__count"] for g in groups) == total, f"{[(g['is_company'], g['__count']) for g in groups]}"))
if major >= 19:
    fgroups = execute_kw("res.partner", "formatted_read_group", [[]], {"groupby": ["is_company"], "aggregates": ["__count"]})
    step("formatted_read_group (19)", lambda: (sum(g["__count"] for g in fgroups) == total, f"{len(fgroups)} groups"))

# "Inspection and introspection": a custom model through ir.model, a field
# through ir.model.fields, then a record of it.
model_name = f"x_custom_model_{os.getpid()}"
model_id = execute_kw("ir.model", "create", [{"name": "Custom Model", "model": model_name, "state": "manual"}])
magic = execute_kw(model_name, "fields_get", [], {"attributes": ["string", "help", "type"]})
step("ir.model create (custom model)", lambda: (
    {"id", "create_uid", "create_date", "write_uid", "write_date", "display_name"} <= set(magic), f"fields {sorted(magic)}"))
execute_kw("ir.model.fields", "create", [{"model_id": model_id, "name": "x_name", "ttype": "char", "state": "manual", "required": True}])
record_id = execute_kw(model_name, "create", [{"x_name": "test record"}])
[custom] = execute_kw(model_name, "read", [[record_id]])
step("ir.model.fields create, then a record", lambda: (custom["x_name"] == "test record", f"x_name={custom['x_name']!r}"))

# "Delete records", then check the record is gone.
execute_kw("res.partner", "unlink", [[new_id]])
left = execute_kw("res.partner", "search", [[["id", "=", new_id]]])
step("unlink", lambda: (left == [], f"search after unlink = {left}"))

# An error as the documentation shows it: a Fault with Odoo's message.
def missing():
    try:
        execute_kw("res.partner", "read", [[new_id]], {"fields": ["name"]})
        return False, "reading a deleted record succeeded"
    except xmlrpc.client.Fault as e:
        return e.faultCode == 2 and "Record does not exist or has been deleted" in e.faultString, f"fault {e.faultCode}"
step("read a deleted record", missing)

print(f"external-api ({version['server_version']}): {'FAILED' if failures else 'passed'}")
sys.exit(1 if failures else 0)
