#!/usr/bin/python3
"""Checks a real response of ceirgw's JSON API against doc/openapi.yaml, without fetching a
validator: the body must hold every property its schema requires and none it does not
declare (the API's schemas say additionalProperties: false), each of the declared type,
enum and pattern; arrays item by item; $ref followed. Headers the response declares as
required must be there. An error body's "status" must be the HTTP status.

  openapi_check.py SPEC PATH METHOD STATUS BODY [HEADERS]   the response of PATH (as the
      document names it, e.g. /v1/imei/{imei}) to METHOD with STATUS
  openapi_check.py SPEC --schema NAME STATUS BODY            against components/schemas/NAME

BODY is the body's file, HEADERS curl's -D file. Prints "ok", or each problem and exits 1.
"""
import json
import re
import sys

import yaml


def resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise SystemExit("%s: only local references are read" % ref)
        node = spec
        for part in ref[2:].split("/"):
            node = node[part]
    return node


TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def validate(spec, schema, value, where, problems):
    schema = resolve(spec, schema)
    if value is None:
        if not schema.get("nullable"):
            problems.append("%s: null, and the schema is not nullable" % where)
        return
    t = schema.get("type")
    if t and not TYPES[t](value):
        problems.append("%s: %r is not of type %s" % (where, value, t))
        return
    if "enum" in schema and value not in schema["enum"]:
        problems.append("%s: %r is none of %s" % (where, value, schema["enum"]))
    if t == "string":
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append("%s: %r does not match %s" % (where, value, schema["pattern"]))
        if schema.get("format") == "date" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            problems.append("%s: %r is no date" % (where, value))
    if t == "integer" and "minimum" in schema and value < schema["minimum"]:
        problems.append("%s: %r is below %s" % (where, value, schema["minimum"]))
    if t == "array":
        for i, item in enumerate(value):
            validate(spec, schema.get("items", {}), item, "%s[%d]" % (where, i), problems)
    if t == "object":
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                problems.append("%s: required property %s missing" % (where, name))
        for name, v in value.items():
            if name in props:
                validate(spec, props[name], v, "%s.%s" % (where, name), problems)
            elif schema.get("additionalProperties", True) is False:
                problems.append("%s: property %s is not in the schema" % (where, name))


def main(argv):
    spec = yaml.safe_load(open(argv[1], encoding="utf-8"))
    headers = {}
    if argv[2] == "--schema":
        schema = {"$ref": "#/components/schemas/" + argv[3]}
        status, body_file = int(argv[4]), argv[5]
        declared = {}
    else:
        path, method, status, body_file = argv[2], argv[3].lower(), int(argv[4]), argv[5]
        try:
            op = spec["paths"][path][method]
        except KeyError:
            print("%s %s: not in the document" % (method.upper(), path))
            return 1
        resp = op["responses"].get(str(status))
        if resp is None:
            print("%s %s: no response %d in the document" % (method.upper(), path, status))
            return 1
        resp = resolve(spec, resp)
        content = resp.get("content", {})
        if "application/json" not in content:
            print("%s %s %d: no application/json content declared" % (method.upper(), path,
                                                                      status))
            return 1
        schema = content["application/json"]["schema"]
        declared = resp.get("headers", {})
        if len(argv) > 6:
            for line in open(argv[6], encoding="latin-1"):
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
    try:
        body = json.load(open(body_file, encoding="utf-8"))
    except ValueError as e:
        print("the body is no JSON: %s" % e)
        return 1
    problems = []
    validate(spec, schema, body, "body", problems)
    if status >= 400 and isinstance(body, dict) and body.get("status") != status:
        problems.append("body.status %r is not the HTTP status %d" % (body.get("status"), status))
    for name, h in declared.items():
        h = resolve(spec, h)
        if h.get("required") and name.lower() not in headers:
            problems.append("header %s missing" % name)
    for p in problems:
        print(p)
    if not problems:
        print("ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
