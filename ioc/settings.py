"""The one settings object of the centre.

Every tunable is declared once here, with its environment name (prefix ``IOC_``),
default and meaning. The composition root reads it once and passes it down;
nothing else reads the environment.

Example::

    IOC_HOME=/var/lib/ioc IOC_KAFKA_BOOTSTRAP_SERVERS=kafka1:9092 ioc services status
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

_REPO_ROOT = Path(__file__).resolve().parent.parent
_SHARED = _REPO_ROOT.parent / "shared"


# x264 presets an evidence clip may use (vision/clips.py), fastest first
ClipPreset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"]


class Settings(BaseSettings):
    """All settings of the centre (environment variables ``IOC_<NAME>`` or a ``.env`` file)."""

    model_config = SettingsConfigDict(env_prefix="IOC_", env_file=".env", extra="ignore")

    home: Path = Field(
        default=Path(".ioc"),
        description="State directory: embedded database cluster, broker logs, caches, pid files.",
    )
    shared_dir: Path = Field(
        default=_SHARED,
        description="Read-only folder with the real data and model weights (never copied here).",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="External PostgreSQL+TimescaleDB URL. Unset: an embedded cluster is started.",
    )
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        description="External Kafka bootstrap servers (host:port,...). Unset: embedded Tansu.",
    )
    pg_bin_dir: Path | None = Field(
        default=None,
        description="PostgreSQL server binaries (initdb, pg_ctl, postgres). Unset: pg_config/Debian default.",
    )
    topic_prefix: str = Field(default="ioc", description="Prefix of every Kafka topic name.")
    topic_partitions: int = Field(default=4, ge=1, le=256, description="Partitions of new topics.")
    dashboard_host: str = Field(default="127.0.0.1", description="Web server bind address.")
    dashboard_port: int = Field(
        default=0, ge=0, le=65535, description="Web server port; 0 picks a free one."
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that signs session cookies. Unset: a random key kept under IOC_HOME.",
    )
    session_ttl_s: int = Field(default=12 * 3600, ge=60, description="Session lifetime.")
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest accepted HTTP request body."
    )
    max_batch_items: int = Field(
        default=5000, ge=1, description="Largest number of observations in one ingest batch."
    )
    max_clock_skew_s: float = Field(
        default=300.0, ge=0, description="Observations later than now + this are rejected."
    )
    max_age_days: float = Field(
        default=3650.0,
        ge=0,
        description="Observations older than this are rejected (replays of history need a wide window).",
    )
    ws_queue_size: int = Field(
        default=256,
        ge=1,
        description="Per-client websocket queue; a client that falls behind resyncs.",
    )
    sink_batch_size: int = Field(default=5000, ge=1, description="Readings per COPY batch.")
    sink_batch_within_s: float = Field(
        default=0.2, gt=0, description="Longest wait to fill a COPY batch."
    )
    retention_days: int = Field(
        default=400,
        ge=1,
        description="Raw readings kept this long (drop_chunks / retention policy).",
    )
    retention_interval_s: float = Field(
        default=3600.0, gt=0, description="How often the streams run retention (Apache edition)."
    )
    mqtt_url: str | None = Field(
        default=None,
        description="MQTT broker to subscribe to, e.g. mqtt://127.0.0.1:1883. Unset: MQTT off.",
    )
    mqtt_topic_filter: str = Field(
        default="ioc/sensors/#", description="MQTT topic filter carrying observations."
    )
    replay_on_run: bool = Field(default=True, description="`ioc run` starts a data replay.")
    replay_speed: float = Field(
        default=3600.0, gt=0, description="Replay time compression: data seconds per wall second."
    )
    areas_file: Path = Field(
        default=_SHARED / "data" / "geo" / "haiphong_districts.geojson",
        description="GeoJSON (or CSV id,name,lat,lon) of the city's areas; replaceable data.",
    )
    sensors_file: Path = Field(
        default=_REPO_ROOT / "infra" / "data" / "sensors.csv",
        description="CSV registry of sensors (id,kind,name,area_id,lat,lon).",
    )
    admin_password: SecretStr | None = Field(
        default=None,
        description="Password of the first admin created at set-up. Unset: random, printed once.",
    )
    streams_app_id: str = Field(
        default="ioc-streams", description="Faust app id (= Kafka consumer group of the workers)."
    )
    worker_heartbeat_s: float = Field(
        default=5.0, gt=0, description="How often each stream worker reports it is alive."
    )
    registry_refresh_s: float = Field(
        default=30.0, gt=0, description="How often services reload the sensor registry."
    )
    replay_path: Literal["http", "mqtt", "kafka"] = Field(
        default="http", description="Ingestion path `ioc run` uses for its replay."
    )
    cameras_dir: Path = Field(
        default=_REPO_ROOT / "vision" / "cameras", description="Camera YAML file or folder."
    )
    detector_type: str = Field(default="ultralytics", description="Detector plugin to use.")
    model_path: Path = Field(
        default=_SHARED / "models" / "yolov8n-rebuilt-from-onnx.pt",
        description="Detector weights (.pt or .onnx), read in place, never copied.",
    )
    detector_conf: float = Field(
        default=0.1,
        gt=0,
        lt=1,
        description="Detector confidence floor. Low, as in ultralytics' track mode: ByteTrack "
        "keeps tracks alive with low-score boxes; new tracks still need 0.25.",
    )
    detector_imgsz: int = Field(default=640, ge=32, le=4096, description="Detector input size, px.")
    vision_device: str = Field(
        default="auto",
        pattern=r"^(auto|cpu|cuda(:\d+)?)$",
        description="auto: CUDA (fp16, cameras batched) when present, else CPU.",
    )
    vision_max_batch: int = Field(default=8, ge=1, le=64, description="Frames per GPU inference.")
    vision_cpu_runtime: Literal["auto", "torch", "openvino"] = Field(
        default="auto",
        description="Detector runtime on a CPU: auto = OpenVINO (the .pt weights exported once "
        "into IOC_MODEL_CACHE_DIR) when the openvino package is installed, else PyTorch.",
    )
    vision_cpu_precision: Literal["fp32", "int8"] = Field(
        default="fp32",
        description="Precision of the OpenVINO detector on a CPU: int8 = the export quantised "
        "once with NNCF on calibration frames, with accuracy control (vision/int8_export.py; "
        "1.2x faster per inference than bf16, up to 1.8x than fp32 on AVX-512 VNNI CPUs; check "
        "your cameras' counts after calibrating on their recordings: docs/VISION.md). Not used "
        "on a GPU.",
    )
    vision_int8_calibration: list[Path] = Field(
        default_factory=list,
        description="Video/image files or folders whose frames calibrate the int8 detector "
        "(your cameras' recordings). Empty: the shared sample clips (IOC_SHARED_DIR/data/video).",
    )
    vision_int8_sizes: list[Annotated[int, Field(ge=32, le=4096)]] = Field(
        default_factory=list,
        description="Input sizes (px) the int8 calibration frames are letterboxed to. Empty: "
        "IOC_DETECTOR_IMGSZ and every camera's detect_imgsz in IOC_CAMERAS_DIR.",
    )
    vision_int8_max_drop: float | None = Field(
        default=0.02,
        ge=0.0,
        lt=1.0,
        description="int8 accuracy control: layers stay in floating point until the int8 "
        "detections agree with the fp32 export's (F1 of matched boxes on the calibration "
        "frames) to within this drop (NNCF quantize_with_accuracy_control, ~14 min once on 2 "
        "cores). Null: plain quantisation (~1 min; moved sample clips' counts by one vehicle).",
    )
    vision_preprocess: Literal["auto", "host", "device"] = Field(
        default="auto",
        description="Where the detector's letterbox and NMS run: auto = beside the network "
        "on a GPU (vision.device_batch, no per-frame CPU work) and on OpenVINO "
        "(vision.openvino_batch: scaling in the compiled graph, static input shapes), else "
        "on the host (ultralytics' predictor, which host selects anywhere); device needs .pt "
        "weights.",
    )
    model_cache_dir: Path | None = Field(
        default=None,
        description="Exported detector models (OpenVINO). Unset: ~/.cache/ioc/models, shared "
        "by every IOC_HOME of the user.",
    )
    vision_torch_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description="CPU threads of the detector, PyTorch or OpenVINO (0: the runtime's default).",
    )
    vision_decode_threads: int = Field(
        default=1,
        ge=0,
        le=64,
        description="FFmpeg decode threads per camera (0: FFmpeg's default, one per core).",
    )
    vision_rtsp_transport: Literal["tcp", "udp", "auto"] = Field(
        default="tcp",
        description="How RTSP cameras send their video: 'tcp' (RTP inside the RTSP "
        "connection: nothing lost, so no smeared frames; through NAT and firewalls), 'udp' "
        "(lower latency on a clean LAN), 'auto' (FFmpeg's choice: UDP, then TCP when no "
        "packet comes). One setting per process (OpenCV takes FFmpeg options from the "
        "environment).",
    )
    vision_evidence_fps: float = Field(
        default=10.0,
        ge=1.0,
        le=30.0,
        description="Frames per second each camera keeps for evidence and writes to its clips "
        "(each kept frame is JPEG-encoded in the camera's ring: fewer frames, less CPU).",
    )
    vision_clip_preset: ClipPreset = Field(
        default="ultrafast",
        description="x264 preset of the evidence clips (ffmpeg writer): encoding is most of a "
        "violation's evidence cost. 'ultrafast' spends about a third of the CPU of "
        "'veryfast' for 2-3x the bytes at the same CRF; slower presets, smaller files.",
    )
    vision_clip_crf: int = Field(
        default=23,
        ge=0,
        le=51,
        description="x264 constant rate factor of the evidence clips: lower is better "
        "quality and larger files (23: x264's default).",
    )
    evidence_dir: Path | None = Field(
        default=None, description="Violation evidence store. Unset: IOC_HOME/evidence."
    )
    camera_frame_interval_s: float = Field(
        default=2.0, gt=0, description="Seconds between annotated JPEGs sent to the dashboard."
    )
    alarm_surge_window_s: float = Field(
        default=600.0, gt=0, description="Alarms: window in which camera violations are counted."
    )
    alarm_surge_count: int = Field(
        default=20, ge=2, description="Alarms: violations of one camera in the window = a surge."
    )
    wall_tile_url: str | None = Field(
        default=None,
        description="Wall map: optional tile server URL template ({z}/{x}/{y}); unset = offline.",
    )
    ws_batch_after: int = Field(
        default=4,
        ge=2,
        description="Websocket: a client with this many queued messages gets them in one frame.",
    )
    ws_tick_s: float = Field(
        default=0.1,
        ge=0,
        le=2,
        description="Websocket: messages of a channel closer than this go out batched per tick.",
    )
    review_unconfirmed_days: int = Field(
        default=90, ge=1, description="Evidence of unconfirmed (pending/rejected) cases kept."
    )
    review_confirmed_days: int = Field(
        default=400,
        ge=366,
        description="Evidence of confirmed cases kept (>= the one-year limitation period).",
    )
    review_purge_interval_s: float = Field(
        default=6 * 3600.0,
        gt=0,
        description="How often the streams purge violation evidence past its retention period.",
    )
    review_detecting_unit: str = Field(
        default="Phòng Cảnh sát giao thông - Công an thành phố Hải Phòng",
        min_length=1,
        description="Detecting unit printed on violation notices.",
    )
    feedback_model_path: Path | None = Field(
        default=None,
        description="Trained feedback classifier (.npz). Unset: trained from the catalogue "
        "and operators' labels when the worker starts.",
    )
    feedback_media_dir: Path | None = Field(
        default=None,
        description="Citizens' photos (EXIF stripped). Unset: IOC_HOME/feedback-media.",
    )
    feedback_max_photo_bytes: int = Field(
        default=5_000_000, ge=1024, description="Largest photo of a citizen report (413 above)."
    )
    feedback_max_photos: int = Field(default=3, ge=0, le=10, description="Photos per report.")
    feedback_max_description: int = Field(
        default=4000, ge=10, description="Longest description of a report, in characters."
    )
    feedback_rate_limit: int = Field(
        default=10, ge=1, description="Reports per address or contact per window (429 above)."
    )
    feedback_rate_window_s: float = Field(
        default=3600.0, gt=0, description="Window of the per-address/contact report limit."
    )
    feedback_deadline_interval_s: float = Field(
        default=60.0, gt=0, description="How often the deadline timer checks open reports."
    )
    api_key_rate_per_s: float = Field(
        default=50.0, gt=0, description="Requests per second per API key (429 above)."
    )
    api_key_burst: int = Field(default=200, ge=1, description="Burst of requests per API key.")
    ingest_address_rate_per_s: float = Field(
        default=100.0, gt=0, description="Ingest requests per second per client address (429)."
    )
    ingest_address_burst: int = Field(
        default=400, ge=1, description="Burst of ingest requests per client address."
    )
    topic_replication_factor: int = Field(
        default=1,
        ge=1,
        description="Replicas of topics the centre creates (3 on a Kafka cluster; 1 embedded).",
    )
    vision_on_run: bool = Field(
        default=True,
        description="`ioc run` also starts `ioc vision run` on every camera of IOC_CAMERAS_DIR "
        "(the sample clips, looping as live cameras).",
    )
    vision_run_detect_fps: Annotated[float, Field(gt=0, le=60)] | Literal["auto"] = Field(
        default="auto",
        description="Under `ioc run`, each camera's detections per second are capped at this; "
        "'auto': the highest cap at which the cameras fit IOC_VISION_RUN_CPU_SHARE of the "
        "host's cores, from one detection timed at start (vision/sizing.py).",
    )
    vision_run_cpu_share: float = Field(
        default=0.6,
        gt=0,
        le=1,
        description="Under `ioc run` with IOC_VISION_RUN_DETECT_FPS=auto, the share of the "
        "host's cores the cameras may take (the rest runs the database, broker, stream "
        "workers and web server).",
    )
    vision_run_keep_input_size: bool = Field(
        default=False,
        description="Under `ioc run` with IOC_VISION_RUN_DETECT_FPS=auto, keep the cameras' "
        "detector input sizes even when the cap falls below 4/s (default: 0.8 of them then, "
        "when that buys a higher rate; vision/sizing.py).",
    )
    vision_workers: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="Camera workers sharing the camera list (`ioc vision run --workers`); each "
        "camera goes to exactly one of them by a stable hash of its id.",
    )
    vision_worker_index: int = Field(
        default=0,
        ge=0,
        le=1023,
        description="This camera worker's index, 0 .. IOC_VISION_WORKERS-1 "
        "(`ioc vision run --worker-index`).",
    )
    vision_processes: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Camera processes `ioc vision run` starts and supervises on this host "
        "(`--processes`); each runs about one core's worth of cameras.",
    )
    gc_gen0_threshold: int = Field(
        default=20_000,
        ge=0,
        le=10_000_000,
        description="The stream worker, web server and MQTT bridge "
        "freeze their start-up heap and collect generation 0 after this many allocations "
        "(ioc/heap.py); 0 keeps the interpreter's defaults.",
    )
    # New settings go above this line.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO")

    @property
    def run_dir(self) -> Path:
        """Folder for pid files and the services state file."""
        return self.home / "run"

    def topic(self, name: str) -> str:
        """Full Kafka topic name, e.g. ``topic("observations.raw") -> "ioc.observations.raw"``."""
        return f"{self.topic_prefix}.{name}"
