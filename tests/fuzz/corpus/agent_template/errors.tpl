unclosed {{ db.USER 
{{ nosuch.key }} {{ db.USER | yaml }} {{ .x }} }} {{