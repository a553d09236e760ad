-- Named queries over the raw JSON archive, run with `tickstack athena NAME` (or `make athena QUERY=NAME`).
-- `{table}` stands for the Glue table Terraform created; each query is plain SQL that both Athena (Trino)
-- and DuckDB (the embedded emulator's engine) accept. The archive may hold a tick more than once, in
-- different objects (a batch retried after a partial failure, a recording replayed): each query reads
-- distinct rows of the columns it uses. None filters on the partition key `dt` (the arrival day), so each
-- reads every day the table projects.

-- name: latest
-- The ten most recent ticks.
SELECT DISTINCT symbol, "timestamp", price, change, change_percent, volume, anomaly
FROM {table}
ORDER BY "timestamp" DESC
LIMIT 10;

-- name: top_movers
-- The five largest rises against the previous close.
SELECT DISTINCT symbol, "timestamp", price, previous_close, ROUND(price - previous_close, 4) AS price_change
FROM {table}
ORDER BY price_change DESC
LIMIT 5;

-- name: average_volume
-- Average traded volume per symbol.
WITH distinct_ticks AS (
    SELECT DISTINCT symbol, "timestamp", volume
    FROM {table}
)
SELECT symbol, COUNT(*) AS ticks, AVG(volume) AS avg_volume
FROM distinct_ticks
GROUP BY symbol
ORDER BY symbol;

-- name: anomalies
-- Moves of more than 5 percent against the previous close.
SELECT DISTINCT symbol, "timestamp", price, previous_close,
       ROUND(((price - previous_close) / previous_close) * 100, 2) AS change_percent
FROM {table}
WHERE ABS(((price - previous_close) / previous_close) * 100) > 5
ORDER BY "timestamp";

-- name: sma_crosses
-- Golden and Death Crosses recomputed from the archive: SMA-5 against SMA-20 per symbol, a cross being a
-- change of sign against the last non-zero sign. Sums are compared (4 * sum5 against sum20) in exact
-- decimals, so no rounding can invent or hide a cross.
WITH distinct_ticks AS (
    SELECT DISTINCT symbol, "timestamp", price
    FROM {table}
),
windows AS (
    SELECT symbol, "timestamp", CAST(price AS DECIMAL(18, 4)) AS price,
           ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY "timestamp") AS n,
           SUM(CAST(price AS DECIMAL(18, 4))) OVER (
               PARTITION BY symbol ORDER BY "timestamp" ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) AS sum5,
           SUM(CAST(price AS DECIMAL(18, 4))) OVER (
               PARTITION BY symbol ORDER BY "timestamp" ROWS BETWEEN 19 PRECEDING AND CURRENT ROW) AS sum20
    FROM distinct_ticks
),
signed AS (
    -- Multiplying rather than dividing keeps the averages exact decimals in both engines.
    SELECT symbol, "timestamp", price, sum5 * 0.2 AS sma5, sum20 * 0.05 AS sma20,
           CASE WHEN 4 * sum5 > sum20 THEN 1 ELSE -1 END AS sign
    FROM windows
    WHERE n >= 20 AND 4 * sum5 <> sum20
),
flips AS (
    SELECT signed.*, LAG(sign) OVER (PARTITION BY symbol ORDER BY "timestamp") AS previous_sign
    FROM signed
)
SELECT symbol, "timestamp", price, sma5, sma20,
       CASE WHEN sign > 0 THEN 'GOLDEN_CROSS' ELSE 'DEATH_CROSS' END AS signal
FROM flips
WHERE previous_sign IS NOT NULL AND previous_sign <> sign
ORDER BY symbol, "timestamp";
