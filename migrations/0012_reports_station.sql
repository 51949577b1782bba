-- 0012: the report list's station= filter (the console's history, the figures' drill-down by
-- station). Without an index a station with few reports is a scan of the whole table (300,000
-- reports: 310 ms); with it 0.3 ms. (station_id, id): the list's keyset order within a station.
CREATE INDEX reports_station_idx ON reports (station_id, id);
