-- Indexes matching the orders of hot listings (found by benchmarks at 1M pharmacies).

-- GET /pharmacies: is_active filter (default true), ORDER BY rating DESC, created_at DESC, id DESC.
CREATE INDEX IF NOT EXISTS idx_pharmacies_listing
    ON pharmacies (is_active, rating DESC, created_at DESC, id DESC);

-- GET /admin/notifications/logs: ORDER BY sent_at DESC NULLS LAST, created_at DESC, id DESC.
CREATE INDEX IF NOT EXISTS idx_notifications_logs_order
    ON notifications (sent_at DESC NULLS LAST, created_at DESC, id DESC);
