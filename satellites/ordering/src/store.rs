//! All SQL of the order and inventory services (queries in `sql/ordering/queries/`).
//! Functions take any client or transaction; the callers decide the transaction boundaries.

use deadpool_postgres::GenericClient;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_postgres::Row;
use uuid::Uuid;
use vote_satellite_kit::Error;

use crate::domain::{NewOrder, Order, OrderPlaced, OrderStatus, StockLevel};

vote_satellite_kit::sql_schema!(schema: "ordering", migrations: "../../sql/ordering");

/// Inserts a new order, `PLACED`.
pub async fn insert_order(db: &impl GenericClient, id: Uuid, order: &NewOrder) -> Result<Order, Error> {
    let row = db
        .query_one(
            &db.prepare_cached(query!("insert_order")).await?,
            &[&id, &order.item, &order.qty, &order.student_id],
        )
        .await?;
    Ok(order_from_row(&row))
}

/// The order with this id.
pub async fn get_order(db: &impl GenericClient, id: Uuid) -> Result<Option<Order>, Error> {
    Ok(db.query_opt(&db.prepare_cached(query!("get_order")).await?, &[&id]).await?.as_ref().map(order_from_row))
}

/// The newest `limit` orders, of one student when given.
pub async fn list_orders(db: &impl GenericClient, student_id: Option<&str>, limit: i64) -> Result<Vec<Order>, Error> {
    Ok(db
        .query(&db.prepare_cached(query!("list_orders")).await?, &[&student_id, &limit])
        .await?
        .iter()
        .map(order_from_row)
        .collect())
}

/// Sets the order's status; `None` when there is no such order.
pub async fn set_order_status(db: &impl GenericClient, id: Uuid, status: OrderStatus) -> Result<Option<Order>, Error> {
    Ok(db
        .query_opt(&db.prepare_cached(query!("set_order_status")).await?, &[&id, &status.as_str()])
        .await?
        .as_ref()
        .map(order_from_row))
}

/// Claims the order for this transaction; `false` when it was handled before (a redelivery).
/// Concurrent deliveries of one order serialize on the primary key.
pub async fn claim_order(db: &impl GenericClient, order: &OrderPlaced) -> Result<bool, Error> {
    Ok(db
        .execute(&db.prepare_cached(query!("claim_order")).await?, &[&order.order_id, &order.item, &order.qty])
        .await?
        == 1)
}

/// The item and quantity an order id was claimed with, if it was.
pub async fn claimed_order(db: &impl GenericClient, order_id: &str) -> Result<Option<(String, i32)>, Error> {
    Ok(db
        .query_opt(&db.prepare_cached(query!("claimed_order")).await?, &[&order_id])
        .await?
        .map(|r| (r.get(0), r.get(1))))
}

/// Records what came of a claimed order: `reserved`, or `failed` with the reason.
pub async fn record_outcome(
    db: &impl GenericClient,
    order_id: &str,
    outcome: &str,
    reason: Option<&str>,
) -> Result<(), Error> {
    db.execute(&db.prepare_cached(query!("record_outcome")).await?, &[&order_id, &outcome, &reason]).await?;
    Ok(())
}

/// Takes `qty` units of `item` when that many are there, returning what is left; `None`
/// otherwise (nothing changes).
pub async fn reserve_stock(db: &impl GenericClient, item: &str, qty: i32) -> Result<Option<i32>, Error> {
    Ok(db.query_opt(&db.prepare_cached(query!("reserve_stock")).await?, &[&item, &qty]).await?.map(|r| r.get(0)))
}

/// The stock of one item, if it is known.
pub async fn get_stock(db: &impl GenericClient, item: &str) -> Result<Option<StockLevel>, Error> {
    Ok(db.query_opt(&db.prepare_cached(query!("get_stock")).await?, &[&item]).await?.as_ref().map(stock_from_row))
}

/// Every item's stock, by name.
pub async fn list_stock(db: &impl GenericClient) -> Result<Vec<StockLevel>, Error> {
    Ok(db.query(&db.prepare_cached(query!("list_stock")).await?, &[]).await?.iter().map(stock_from_row).collect())
}

/// Sets an item's stock, adding the item when new.
pub async fn set_stock(db: &impl GenericClient, item: &str, quantity: i32) -> Result<StockLevel, Error> {
    Ok(stock_from_row(&db.query_one(&db.prepare_cached(query!("set_stock")).await?, &[&item, &quantity]).await?))
}

fn order_from_row(row: &Row) -> Order {
    let status: &str = row.get(4);
    Order {
        order_id: row.get(0),
        item: row.get(1),
        qty: row.get(2),
        student_id: row.get(3),
        // The table's CHECK constraint admits only known statuses.
        status: OrderStatus::parse(status).unwrap_or(OrderStatus::Placed),
        created_at: rfc3339(row.get(5)),
        updated_at: rfc3339(row.get(6)),
    }
}

fn stock_from_row(row: &Row) -> StockLevel {
    StockLevel { item: row.get(0), quantity: row.get(1) }
}

fn rfc3339(at: OffsetDateTime) -> String {
    // Any timestamp PostgreSQL stores formats as RFC 3339.
    at.format(&Rfc3339).unwrap_or_default()
}
