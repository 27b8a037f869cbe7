# sqlite_wal.py DB: sqlite3 in WAL mode (a shared mapping of DB-shm and fcntl
# locks) inserts 1000 rows in one transaction and reads them back, also
# through a second connection.
import sqlite3, sys

db = sqlite3.connect(sys.argv[1])
print(db.execute("pragma journal_mode=wal").fetchone()[0])
db.execute("create table t(i integer, s text)")
with db:
    for i in range(1000):
        db.execute("insert into t values (?, ?)", (i, "row%d" % i))
print(db.execute("select count(*), sum(i) from t").fetchone())
other = sqlite3.connect(sys.argv[1])
print(other.execute("select count(*) from t where s like 'row9%'").fetchone()[0])
with other:
    other.execute("delete from t where i >= 500")
print(db.execute("select count(*) from t").fetchone()[0])
