x={{ db.nul | shell }} {{ db.t | json | json }} {{ db.f|base64|base64|base64|base64|base64|base64|base64|base64 }}
