# Application read access, with a deny carved out.
path "secret/data/app/*" {
  capabilities = ["read", "list",]
}

/* Team configs, one segment per team. */
path "secret/data/+/config" {
  capabilities = ["create", "update", "patch"]
  allowed_parameters = {
    "ttl" = ["1h", "2h"]
    "*"   = []
  }
  min_wrapping_ttl = "1s"
}

path "secret/data/app/admin" {
  capabilities = ["deny"]
}

// Legacy form
path "sys/mounts" {
  policy = "read"
}
