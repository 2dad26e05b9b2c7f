DROP INDEX IF EXISTS idx_notifications_logs_order;
DROP INDEX IF EXISTS idx_pharmacies_listing;
