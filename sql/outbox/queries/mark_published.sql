UPDATE outbox SET published_at = now() WHERE id = $1
