-- Schema of the order-service and the inventory-service (one migration set for the crate: the
-- two services may share a database or each have its own).

-- OrderService: orders and where they stand.
CREATE TABLE orders (
    id         uuid PRIMARY KEY,
    item       text NOT NULL,
    qty        integer NOT NULL CHECK (qty > 0),
    student_id text NOT NULL,
    status     text NOT NULL DEFAULT 'PLACED' CHECK (status IN ('PLACED', 'RESERVED', 'FAILED')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX orders_newest ON orders (created_at DESC, id);
CREATE INDEX orders_student ON orders (student_id, created_at DESC);

-- InventoryService: stock per item (names match exactly), seeded with the campus menu.
CREATE TABLE stock (
    item       text PRIMARY KEY,
    quantity   integer NOT NULL CHECK (quantity >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO stock (item, quantity) VALUES
    ('Pizza', 100),
    ('Burger', 100),
    ('Coffee', 200),
    ('Salad', 50),
    ('Sandwich', 50);

-- One row per order the InventoryService handled, claimed in the transaction that changes the
-- stock: a redelivered order.placed finds its row and reserves nothing.
CREATE TABLE processed_orders (
    order_id     text PRIMARY KEY,
    item         text NOT NULL,
    qty          integer NOT NULL,
    outcome      text CHECK (outcome IN ('reserved', 'failed')),
    reason       text,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- Events go through the shared outbox table (sql/outbox/V1__outbox.sql, applied first).
