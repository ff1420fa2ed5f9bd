//! The store-api extension: the code behind `specs/store.toml`'s custom operations
//! and hooks. `store-api` (generated) declares what to implement; this crate is ours.
//!
//! - `rating_summary`: review count and average rate of a product, optionally only
//!   reviews rated at least `min_rate`;
//! - `reprice`: changes a product's price by a percentage, in one statement;
//! - `me`: the signed-in caller's subject and email, from the user token the backend
//!   verified (never from a header the client could write);
//! - `review_before_create`: trims the reviewer's name and rejects a message that
//!   quotes the product's title (422 on `message`), inside the insert's transaction;
//! - `review_after_create`: writes an audit entry once the review is committed.

use store_api::{
    ApiError, Context, DbError, Decimal, Extension, FromRow, HookContext, MeOutput,
    RatingSummaryInput, RatingSummaryOutput, Record, RepriceInput, Row, Value,
};

/// The extension; the backend makes one at start (`Default`).
#[derive(Debug, Default)]
pub struct Store;

/// `COUNT(*)` and `SUM(rate)` of some reviews.
struct Counts {
    reviews: i64,
    rate_sum: i64,
}

impl FromRow for Counts {
    fn from_row(row: &Row) -> Result<Self, DbError> {
        Ok(Counts {
            reviews: row.get(0)?,
            rate_sum: row.get(1)?,
        })
    }
}

/// One text column.
struct Text(String);

impl FromRow for Text {
    fn from_row(row: &Row) -> Result<Self, DbError> {
        Ok(Text(row.get(0)?))
    }
}

/// A product's price (`decimal(10, 2)`).
struct Price(Decimal);

impl FromRow for Price {
    fn from_row(row: &Row) -> Result<Self, DbError> {
        Ok(Price(row.decimal(0, 2)?))
    }
}

/// Largest price a `decimal(10, 2)` holds.
const MAX_PRICE: &str = "99999999.99";

impl Extension for Store {
    async fn me(&self, ctx: &Context) -> Result<MeOutput, ApiError> {
        // `auth = "firebase"`: the backend answers 401 before this runs unless the
        // request's token verified, so a caller is always there.
        let caller = ctx
            .caller()
            .ok_or_else(|| ApiError::Unauthorized("no signed-in user".into()))?;
        Ok(MeOutput {
            subject: caller.subject().to_string(),
            email: caller.email().map(str::to_string),
        })
    }

    async fn rating_summary(
        &self,
        ctx: &Context,
        input: RatingSummaryInput,
    ) -> Result<RatingSummaryOutput, ApiError> {
        let db = ctx.db();
        let exists: Option<i64> = db
            .fetch_optional(
                "SELECT id FROM products WHERE id = $1",
                &[Value::Int(input.id)],
            )
            .await?;
        if exists.is_none() {
            return Err(ApiError::not_found("product", input.id));
        }
        let min_rate = i64::from(input.min_rate.unwrap_or(1));
        let counts: Option<Counts> = db
            .fetch_optional(
                "SELECT COUNT(*), COALESCE(SUM(rate), 0) FROM reviews WHERE product_id = $1 AND rate >= $2",
                &[Value::Int(input.id), Value::Int(min_rate)],
            )
            .await?;
        let counts = counts.unwrap_or(Counts {
            reviews: 0,
            rate_sum: 0,
        });
        let average = (counts.reviews > 0).then(|| {
            let mut avg = Decimal::from(counts.rate_sum) / Decimal::from(counts.reviews);
            avg = avg.round_dp(2);
            avg.rescale(2);
            avg
        });
        ctx.log().info(format!(
            "rating summary of product {}: {} reviews",
            input.id, counts.reviews
        ));
        Ok(RatingSummaryOutput {
            product_id: input.id,
            reviews: counts.reviews,
            average,
        })
    }

    async fn reprice(&self, ctx: &Context, input: RepriceInput) -> Result<i64, ApiError> {
        let db = ctx.db();
        let price: Option<Price> = db
            .fetch_optional(
                "SELECT price FROM products WHERE id = $1",
                &[Value::Int(input.id)],
            )
            .await?;
        let Some(Price(price)) = price else {
            return Err(ApiError::not_found("product", input.id));
        };
        let factor = Decimal::from(100 + input.percent) / Decimal::from(100);
        let mut new_price = (price * factor).round_dp(2);
        new_price.rescale(2);
        let max: Decimal = MAX_PRICE
            .parse()
            .map_err(|_| ApiError::Internal("bad MAX_PRICE".into()))?;
        if new_price > max {
            return Err(ApiError::invalid(
                "percent",
                format!("the price would be {new_price}, above {MAX_PRICE}"),
            ));
        }
        db.execute(
            "UPDATE products SET price = $1 WHERE id = $2",
            &[
                Value::Decimal {
                    value: new_price,
                    precision: 10,
                },
                Value::Int(input.id),
            ],
        )
        .await?;
        Ok(input.id)
    }

    async fn review_before_create(
        &self,
        ctx: &mut HookContext,
        record: &mut Record,
    ) -> Result<(), ApiError> {
        if let Some(name) = record.text("name") {
            let trimmed = name.trim().to_string();
            if trimmed.is_empty() {
                return Err(record.reject("name", "must not be blank"));
            }
            record.set("name", trimmed)?;
        }
        let (Some(product_id), Some(message)) = (record.int("product_id"), record.text("message"))
        else {
            return Ok(());
        };
        let message = message.to_lowercase();
        let title: Option<Text> = ctx
            .tx()
            .fetch_optional(
                "SELECT title FROM products WHERE id = $1",
                &[Value::Int(product_id)],
            )
            .await?;
        if let Some(Text(title)) = title
            && message.contains(&title.to_lowercase())
        {
            return Err(record.reject(
                "message",
                "must not quote the product's title; describe the product instead",
            ));
        }
        Ok(())
    }

    async fn review_after_create(&self, ctx: &Context, id: i64) -> Result<(), ApiError> {
        ctx.db()
            .execute(
                "INSERT INTO audit_entries (action, subject) VALUES ($1, $2)",
                &[
                    Value::Text("review.created".into()),
                    Value::Text(format!("review {id}")),
                ],
            )
            .await?;
        Ok(())
    }
}
