-- Per-minute traffic flow from the cameras (issue #3): one row per camera, lane, vehicle
-- class and minute, in the terms of Smart Data Models TrafficFlowObserved (intensity =
-- vehicles in the minute, occupancy 0..1, average speed km/h where the camera is calibrated).
-- Written by streams/agents/traffic_flow.py with ON CONFLICT DO NOTHING: a repeated message
-- (same entity id = camera, lane, class, minute) changes nothing.
CREATE TABLE traffic_flow (
    minute          timestamptz      NOT NULL,  -- dateObservedFrom; the period is 1 minute
    camera_id       text             NOT NULL,
    lane_id         text             NOT NULL,  -- lane id of the camera config, or 'all'
    vehicle_class   text             NOT NULL,  -- car, motorbike, bus, truck, bicycle
    intensity       integer          NOT NULL CHECK (intensity >= 0),
    occupancy       real             CHECK (occupancy BETWEEN 0 AND 1),
    average_speed_kmh real           CHECK (average_speed_kmh >= 0),
    entity_id       text             NOT NULL,  -- urn:ngsi-ld:TrafficFlowObserved:...
    received_at     timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (camera_id, lane_id, vehicle_class, minute)
);
SELECT create_hypertable('traffic_flow', 'minute', chunk_time_interval => interval '7 days');
-- (create_hypertable adds the index on minute DESC.)
