export PASS={{db.PASS|shell}}
JSON={{ db.obj | json }} {{ db.utf8 | json | base64 | urlquery }}
{{ db.n }}{{ db.null }}{{ db.arr|json }}{{ db.a.b }}
