//! USSD sessions in the database: any mkoba process can answer any hop, and what a session held
//! expires with it.

use diesel::prelude::*;

use crate::store::db::AnyConnection;
use crate::store::schema::ussd_sessions;
use crate::store::StoreError;
use crate::with_conn;

#[derive(Clone, Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = ussd_sessions)]
pub struct SessionRow {
    pub id: String,
    pub msisdn: String,
    pub state: String,
    pub last_path: String,
    pub last_reply: String,
    pub last_end: bool,
    pub hops: i32,
    pub updated_at: i64,
    pub expires_at: i64,
}

/// The live session with this key, if it has not expired.
pub fn load(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
) -> Result<Option<SessionRow>, StoreError> {
    Ok(with_conn!(conn, |c| ussd_sessions::table
        .find(id)
        .filter(ussd_sessions::expires_at.gt(now))
        .select(SessionRow::as_select())
        .first(c)
        .optional())?)
}

pub fn save(conn: &mut AnyConnection, row: &SessionRow) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::insert_into(ussd_sessions::table)
        .values(row)
        .on_conflict(ussd_sessions::id)
        .do_update()
        .set(row)
        .execute(c))?;
    Ok(())
}

pub fn delete(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::delete(ussd_sessions::table.find(id))
        .execute(c))?;
    Ok(())
}

/// Removes expired sessions (their state may hold a new PIN between its two entries).
pub fn purge_expired(conn: &mut AnyConnection, now: i64) -> Result<usize, StoreError> {
    Ok(with_conn!(conn, |c| diesel::delete(
        ussd_sessions::table.filter(ussd_sessions::expires_at.le(now))
    )
    .execute(c))?)
}
