INSERT INTO poll_options (poll_id, position, value)
SELECT $1, (t.ord - 1)::integer, t.value
FROM unnest($2::text[]) WITH ORDINALITY AS t (value, ord)
