dsn=postgres://{{ db.USER }}:{{ db.PASS | urlquery }}@db
key={{ api.token | base64 }}
