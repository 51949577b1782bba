/* vocab.c - the vocabulary tables and division-code rules (see vocab.h). */
#include "service/core/vocab.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* VOCAB(name, component, list, labels_from, terms...): the table `name`, its OpenAPI schema name,
 * its key in GET /api/v1/vocabulary (NULL: not served) and where unlabelled terms take labels. */
#define VOCAB(name, component, list, from, ...)                                                    \
    static const vocab_term name##_terms[] = {__VA_ARGS__};                                        \
    const vocab name = {component, name##_terms, sizeof name##_terms / sizeof name##_terms[0],     \
                        list, from}

/* T(code, Chinese label, more fields...): one term */
#define T(c, ...)                                                                                  \
    { .code = c, .label = __VA_ARGS__ }

VOCAB(VOCAB_CATEGORY, "Category", "categories", NULL,
      T("vagrant", "流浪人员", .label_en = "Vagrant",
        .description = "露宿街头、无固定住所的人员 / A person sleeping rough or without a home",
        .keywords = "流浪,露宿,homeless,vagrant,rough sleeper"),
      T("beggar", "乞讨人员", .label_en = "Beggar",
        .description = "街面乞讨人员 / A person begging in the street",
        .keywords = "乞讨,begging,beggar"),
      T("lost_elderly", "走失老人", .label_en = "Lost elderly person",
        .description = "迷路或走失的老人 / An elderly person who seems lost or confused",
        .keywords = "走失,老人,elderly,lost,dementia"),
      T("minor", "未成年人", .label_en = "Unaccompanied minor",
        .description = "无人陪伴的未成年人 / A child or teenager alone and in need",
        .keywords = "未成年人,儿童,child,minor,unaccompanied"),
      T("mental_illness", "精神障碍患者", .label_en = "Person with mental illness",
        .description =
            "疑似精神障碍、需要帮助的人员 / A person who seems mentally ill and in need of help",
        .keywords = "精神,mental illness,psychiatric"),
      T("injured_or_ill", "伤病人员", .label_en = "Injured or ill person",
        .description = "受伤或患病的街面人员 / A person in the street who is hurt or ill",
        .keywords = "受伤,生病,injured,ill,sick"),
      T("other", "其他", .label_en = "Other",
        .description = "其他需要救助的街面人员 / Anyone else in the street who needs help",
        .keywords = "求助,救助,other,help"));

VOCAB(VOCAB_REPORT_STATUS, "ReportStatus", "statuses",
      NULL, [RS_NEW] = T("new", "待确认", .flags = VOCAB_OPEN | VOCAB_INITIAL),
      [RS_ACKNOWLEDGED] = T("acknowledged", "已确认", .flags = VOCAB_OPEN),
      [RS_DISPATCHED] = T("dispatched", "已派遣", .flags = VOCAB_OPEN | VOCAB_HOLDS_UNIT),
      [RS_ON_SCENE] = T("on_scene", "已到场", .flags = VOCAB_OPEN | VOCAB_HOLDS_UNIT),
      [RS_RESOLVED] = T("resolved", "已办结", .flags = VOCAB_CLOSED),
      [RS_CANCELLED] = T("cancelled", "已撤销", .flags = VOCAB_CLOSED),
      [RS_DUPLICATE] = T("duplicate", "重复上报", .flags = VOCAB_CLOSED));

VOCAB(VOCAB_OUTCOME, "Outcome", "outcomes", NULL, T("admitted_to_station", "入站救助"),
      T("escorted_home", "护送返家"), T("sent_to_hospital", "送医救治"),
      T("refused_help", "拒绝救助"), T("not_found", "未找到"), T("handed_to_police", "移交公安"));

/* How a report came in: a patrol's or informant's app, an Open311 post, a call a dispatcher took
 * (reports.source). */
VOCAB(VOCAB_REPORT_SOURCE, "ReportSource", "sources", NULL, [SRC_APP] = T("app", "巡查上报"),
      [SRC_OPEN311] = T("open311", "公众上报"), [SRC_PHONE] = T("phone", "电话受理"));

/* What a client may send as a report's source: Open311 posts come through their own route. */
VOCAB(VOCAB_SOURCE_INPUT, "ReportSourceInput", NULL, &VOCAB_REPORT_SOURCE, T("app", NULL),
      T("phone", NULL));

/* The line a call taken by phone came on (reports.channel, with source phone only). */
VOCAB(VOCAB_PHONE_CHANNEL, "PhoneChannel", "phone_channels", NULL,
      T("12345", "12345热线", .label_en = "12345 citizen hotline",
        .description = "12345政务服务便民热线转来的求助 / A call passed on by the 12345 hotline"),
      T("110", "110移交", .label_en = "110 police hand-over",
        .description = "110报警服务台移交的警情 / A case handed over by the 110 police desk"),
      T("other", "其他来电", .label_en = "Other call",
        .description = "群众直接来电等 / Any other call, such as a citizen calling the station"));

VOCAB(VOCAB_LEVEL, "DivisionLevel", "levels", NULL, [LEVEL_PROVINCE] = T("province", "省"),
      [LEVEL_CITY] = T("city", "市"), [LEVEL_COUNTY] = T("county", "县（区）"),
      [LEVEL_TOWN] = T("town", "乡镇（街道）"), [LEVEL_COMMUNITY] = T("community", "村（社区）"));
_Static_assert(LEVEL_CITY + TIER_COMMUNITY == LEVEL_COMMUNITY, "levels are the province + tiers");

/* In gis_level order (GIS_CITY = 0 .. GIS_COMMUNITY = 3); tier_ack: each tier's setting that holds
 * its acknowledgement time limit. */
VOCAB(VOCAB_TIER, "Tier", "tiers",
      NULL, [TIER_CITY] = T("city", "市级"), [TIER_COUNTY] = T("county", "县级"),
      [TIER_TOWN] = T("town", "乡镇级"), [TIER_COMMUNITY] = T("community", "村（社区）级"));
static const size_t tier_ack[] = {[TIER_CITY] = offsetof(config, ack_city_s),
                                  [TIER_COUNTY] = offsetof(config, ack_county_s),
                                  [TIER_TOWN] = offsetof(config, ack_town_s),
                                  [TIER_COMMUNITY] = offsetof(config, ack_community_s)};

VOCAB(VOCAB_UNIT_STATUS, "UnitStatus", "unit_statuses",
      NULL, [US_AVAILABLE] = T("available", "空闲"),
      [US_DISPATCHED] = T("dispatched", "出警中", .flags = VOCAB_HOLDS_UNIT),
      [US_ON_SCENE] = T("on_scene", "在现场", .flags = VOCAB_HOLDS_UNIT),
      [US_BUSY] = T("busy", "忙碌"), [US_OFF_DUTY] = T("off_duty", "下班"));

/* dispatched and on_scene follow the unit's report (lifecycle.c): not for clients */
VOCAB(VOCAB_UNIT_SETTABLE, "UnitSettableStatus", NULL, &VOCAB_UNIT_STATUS, T("available", NULL),
      T("busy", NULL), T("off_duty", NULL));

/* One term per row of the transitions table (lifecycle.c): the label is the action's name. */
VOCAB(VOCAB_EVENT_TYPE, "ReportEventType", "event_types",
      NULL, [RT_ACKNOWLEDGE] = T("acknowledge", "确认接收"), [RT_DISPATCH] = T("dispatch", "派遣"),
      [RT_ARRIVE] = T("arrive", "到达现场"), [RT_RESOLVE] = T("resolve", "办结"),
      [RT_CANCEL] = T("cancel", "撤销"), [RT_MARK_DUPLICATE] = T("mark_duplicate", "标记重复"),
      [RT_ESCALATE] = T("escalate", "升级"));

/* What a report's timeline records: its creation, each transition (labelled as the action), an
 * escalation (by hand or by the deadline) and each photo. */
VOCAB(VOCAB_TIMELINE, "TimelineType", "timeline_types",
      &VOCAB_EVENT_TYPE, [TL_CREATED] = T("created", "上报"), T("acknowledge", NULL),
      T("dispatch", NULL), T("arrive", NULL), T("resolve", NULL), T("cancel", NULL),
      T("mark_duplicate", NULL), [TL_ESCALATED] = T("escalated", "已升级"),
      [TL_PHOTO_ADDED] = T("photo_added", "添加照片"));

/* The live events: a new kind is one row here (its flag names its payload shape and who may see
 * it, events_append.h and events.c) and the code that appends it. A kind with neither payload
 * flag is internal: streamed to nobody (session.revoked ends its session's streams). */
VOCAB(VOCAB_EVENT_KIND, "EventKind", "event_kinds", NULL,
      [EK_REPORT_CREATED] = T("report.created", "新上报", .flags = VOCAB_EV_REPORT,
                              .description = "a report was filed"),
      [EK_REPORT_UPDATED] = T("report.updated", "上报更新", .flags = VOCAB_EV_REPORT,
                              .description = "a report changed (payload.event says how)"),
      [EK_UNIT_CREATED] = T("unit.created", "新增单位", .flags = VOCAB_EV_UNIT,
                            .description = "a unit was created"),
      [EK_UNIT_UPDATED] = T("unit.updated", "单位更新", .flags = VOCAB_EV_UNIT,
                            .description = "a unit's status changed"),
      [EK_UNIT_POSITION] = T("unit.position", "单位位置", .flags = VOCAB_EV_UNIT,
                             .description = "a unit moved"),
      [EK_SESSION_REVOKED] = T("session.revoked", "登录已撤销", .flags = VOCAB_INTERNAL,
                               .description = "a session was revoked: its streams end (internal)"),
      [EK_PATROL_VISIT] = T("patrol.visit", "巡查到访", .flags = VOCAB_EV_PATROL,
                            .description = "a verified visit of a patrol plan's target"),
      [EK_PATROL_OVERDUE] = T("patrol.overdue", "巡查逾时", .flags = VOCAB_EV_PATROL,
                              .description = "no unit of a plan near its targets 15 minutes into a "
                                             "window"));

VOCAB(VOCAB_SEX, "Sex", "sexes", NULL, T("male", "男", .label_en = "Male"),
      T("female", "女", .label_en = "Female"), T("unknown", "不详", .label_en = "Unknown"));

/* In the order of the ROLE_* bits (auth.h). */
VOCAB(VOCAB_ROLE, "Role", "roles", NULL, [RO_PATROL] = T("patrol", "巡查队员"),
      [RO_COMMUNITY] = T("community", "社区信息员"), [RO_DISPATCHER] = T("dispatcher", "调度员"),
      [RO_SUPERVISOR] = T("supervisor", "主管"), [RO_ADMIN] = T("admin", "系统管理员"));

/* An administrative division, or a development zone that overlaps them (reports list its zones). */
VOCAB(VOCAB_DIVISION_KIND, "DivisionKind", "division_kinds",
      NULL, [DK_ADMIN] = T("admin", "行政区划"), [DK_ZONE] = T("zone", "功能区"));

VOCAB(VOCAB_DIVISION_CHANGE, "DivisionChange", "division_changes",
      NULL, [DC_NEW] = T("new", "新设"), [DC_RENAMED] = T("renamed", "更名"),
      [DC_MERGED] = T("merged", "合并"), [DC_ABOLISHED] = T("abolished", "撤销"));

/* agencies.kind: the agencies of a joint patrol (联合巡查). */
VOCAB(VOCAB_AGENCY_KIND, "AgencyKind", "agency_kinds", NULL, T("civil_affairs", "民政"),
      T("police", "公安"), T("urban_management", "城管"), T("health", "卫生健康"),
      T("street_office", "街道办事处"), T("community", "社区（村）"), T("volunteer", "志愿者"));

/* What a window of a plan shows in the units' tracks (GET /api/v1/patrol-plans/{id}/walked): every
 * target has a visit that counts; some time inside a target, short of that; nobody inside. */
VOCAB(VOCAB_WALKED_STATUS, "WalkedStatus", "walked_statuses",
      NULL, [WS_DONE] = T("complete", "已完成"), [WS_PARTLY] = T("partial", "部分完成"),
      [WS_MISSED] = T("missed", "未巡查"));

/* A target's time of day by name (the times: service/patrols/plans.c). */
VOCAB(VOCAB_TIME_PRESET, "TimePreset", "time_presets",
      NULL, [TP_NIGHT] = T("night", "夜间（20:00–06:00）"));

/* audit.kind, audit.action and audit.entity: the audit trail (core/audit.c). */
VOCAB(VOCAB_AUDIT_KIND, "AuditKind", "audit_kinds", NULL, [AK_READ] = T("read", "查阅个人信息"),
      [AK_WRITE] = T("write", "管理操作"), [AK_SIGN_IN] = T("sign_in", "登录与密码"));
VOCAB(VOCAB_AUDIT_ACTION, "AuditAction", "audit_actions",
      NULL, [AA_REPORT_GET] = T("report.get", "查看上报"),
      [AA_REPORT_LIST] = T("report.list", "查看上报列表"),
      [AA_PHOTO_LIST] = T("photo.list", "查看照片列表"),
      [AA_PHOTO_GET] = T("photo.get", "查看照片"), [AA_EXPORT_CSV] = T("export.csv", "导出 CSV"),
      [AA_EXPORT_GEOJSON] = T("export.geojson", "导出 GeoJSON"),
      [AA_AUTH_LOGIN] = T("auth.login", "登录成功"),
      [AA_AUTH_LOGIN_FAILED] = T("auth.login_failed", "登录失败"),
      [AA_AUTH_LOGOUT] = T("auth.logout", "已退出登录"),
      [AA_AUTH_PASSWORD] = T("auth.password", "修改密码"),
      [AA_AUTH_RESET] = T("auth.reset", "用重置码设置密码"),
      [AA_AUTH_RESET_FAILED] = T("auth.reset_failed", "重置码错误"),
      [AA_STATION_CREATE] = T("station.create", "新建站点"),
      [AA_STATION_UPDATE] = T("station.update", "修改站点"),
      [AA_AGENCY_CREATE] = T("agency.create", "新建部门"),
      [AA_AGENCY_UPDATE] = T("agency.update", "修改部门"),
      [AA_UNIT_CREATE] = T("unit.create", "新建巡查单位"),
      [AA_UNIT_UPDATE] = T("unit.update", "修改巡查单位"),
      [AA_UNIT_MEMBERS] = T("unit.members", "调整单位成员"),
      [AA_SHIFT_CREATE] = T("shift.create", "排班"),
      [AA_SHIFT_UPDATE] = T("shift.update", "修改班次"),
      [AA_USER_CREATE] = T("user.create", "新建用户"),
      [AA_USER_UPDATE] = T("user.update", "修改用户"),
      [AA_USER_RESET_CODE] = T("user.reset_code", "生成密码重置码"),
      [AA_REPORT_MASK] = T("report.mask", "到期删除个人信息"),
      [AA_PLAN_CREATE] = T("patrol_plan.create", "新建巡查计划"),
      [AA_PLAN_UPDATE] = T("patrol_plan.update", "修改巡查计划"),
      [AA_EXPORT_XLSX] = T("export.xlsx", "导出月报表"),
      [AA_CAMPAIGN_CREATE] = T("campaign.create", "新建专项行动"));
VOCAB(
    VOCAB_AUDIT_ENTITY, "AuditEntity", "audit_entities",
    NULL, [AE_STATION] = T("station", "救助站点"), [AE_AGENCY] = T("agency", "部门"),
    [AE_UNIT] = T("unit", "巡查队"), [AE_SHIFT] = T("shift", "班次"), [AE_USER] = T("user", "用户"),
    [AE_PLAN] = T("patrol_plan", "巡查计划"), [AE_CAMPAIGN] = T("campaign", "专项行动"));

/* The groupings of the figures (GET /api/v1/stats?by=): the tier that finally held a report, its
 * county, town or station, its category, or the month, ISO week or day it was received (the city's
 * days). */
VOCAB(VOCAB_STATS_BY, "StatsBy", "stats_by", NULL, [SB_TIER] = T("tier", "按层级"),
      [SB_COUNTY] = T("county", "按县（区）"), [SB_TOWN] = T("town", "按乡镇（街道）"),
      [SB_STATION] = T("station", "按站点"), [SB_CATEGORY] = T("category", "按类别"),
      [SB_MONTH] = T("month", "按月"), [SB_WEEK] = T("week", "按周"), [SB_DAY] = T("day", "按日"));

/* The names of the figures (keys of GET /api/v1/stats), and the words of the statistics page and
 * the monthly report (its sheets, titles and headers): every label people read there. */
VOCAB(VOCAB_STATS_TERM, "StatsTerm", "stats_terms", NULL, T("reports", "上报数"),
      T("people", "涉及人数"), T("ack_s", "确认用时"), T("dispatch_s", "派遣用时"),
      T("on_scene_s", "到场用时"), T("resolve_s", "办结用时"), T("p50", "中位数"),
      T("p90", "90%分位"), T("n", "样本数"), T("escalations", "超时升级"),
      T("escalated_from", "自该层级超时升级"), T("ack_limit", "确认时限"), T("patrols", "巡查次数"),
      T("staff_turns", "巡查人次"), T("places_visited", "巡查点位数"),
      T("hours", "巡查时长（小时）"), T("km", "巡查里程（公里）"), T("coverage", "社区巡查覆盖"),
      T("communities", "社区总数"), T("visited", "期内巡查社区数"), T("share", "覆盖率"),
      T("longest_unvisited", "最久未巡查社区"), T("last_patrolled_at", "最近巡查时间"),
      T("total", "合计"), T("left_out", "未列入排名（上报数不足）"),
      T("min_reports", "排名最少上报数"), T("records", "查看上报"), T("candidate", "候选站址"),
      T("current", "现有站点"), T("change", "增加覆盖"), T("proposals", "建议站址"),
      T("radius_m", "服务半径（米）"), T("ui_minutes", "分钟"), T("ui_period", "统计期间"),
      T("ui_division", "统计区划"), T("ui_from", "起始日期"), T("ui_to", "截止日期"),
      T("ui_apply", "生成统计"), T("ui_trend", "每周上报趋势"),
      T("ui_response", "各县（区）响应时间"), T("ui_outcomes", "救助结果"),
      T("ui_coverage_map", "社区巡查覆盖图"), T("ui_monthly", "下载月报表"), T("ui_month", "月份"),
      T("ui_siting", "救助站选址分析"),
      T("ui_siting_hint", "在图上点击一个位置，查看以其为站址的覆盖情况"), T("ui_k", "建议站址数"),
      T("ui_not_yet", "（待联合巡查数据）"), T("ui_page", "统计"),
      T("xlsx_title", "街面巡查救助月报表"), T("xlsx_summary", "汇总"),
      T("xlsx_times", "发现与响应时间"), T("xlsx_outcomes", "救助结果"),
      T("xlsx_escalations", "超时升级"), T("xlsx_patrols", "巡查与覆盖"),
      T("xlsx_reports", "上报清单"), T("xlsx_by_county", "各县（区）"),
      T("xlsx_by_tier", "各层级"));

/* The columns of the report exports (CSV with ?labels=zh, the monthly report's list): their
 * Chinese headers, by column name; served too: the console's report panel names its fields so. */
VOCAB(VOCAB_REPORT_FIELD, "ReportField", "report_fields", NULL, T("id", "编号"),
      T("client_id", "客户端编号"), T("status", "状态"), T("category", "类别"), T("lon", "经度"),
      T("lat", "纬度"), T("crs", "坐标系"), T("accuracy_m", "定位精度（米）"),
      T("observed_at", "发现时间"), T("received_at", "接收时间"), T("updated_at", "更新时间"),
      T("description", "情况描述"), T("people_count", "人数"), T("person_sex", "性别"),
      T("person_approx_age", "估计年龄"), T("person_appearance", "体貌特征"),
      T("person_name_if_known", "姓名"), T("city_code", "市代码"), T("city", "市"),
      T("county_code", "县（区）代码"), T("county", "县（区）"), T("town_code", "乡镇（街道）代码"),
      T("town", "乡镇（街道）"), T("community_code", "村（社区）代码"),
      T("community", "村（社区）"), T("zones", "功能区"), T("outside", "市域外"),
      T("snapped_m", "就近归属距离（米）"), T("station_id", "站点编号"), T("station", "责任站点"),
      T("tier", "责任层级"), T("ack_deadline", "确认时限"), T("unit_id", "单位编号"),
      T("outcome", "救助结果"), T("duplicate_of", "重复于"), T("source", "来源"),
      T("channel", "来电渠道"), T("acknowledged_at", "确认时间"), T("dispatched_at", "派遣时间"),
      T("on_scene_at", "到场时间"), T("resolved_at", "办结时间"),
      T("personal_data_deleted_at", "个人信息删除时间"));

/* Every code of {"error": {"code"}} the service sends, its label the message shown to people. A
 * query parameter's own invalid_<name> not listed here reads as invalid_field. */
VOCAB(VOCAB_ERROR, "ErrorCode", "error_codes", NULL, T("agency_name_taken", "本辖区已有同名部门"),
      T("agency_other_division", "该部门不属于本单位所在辖区"), T("busy", "服务器繁忙，请稍后再试"),
      T("body_incomplete", "提交的内容不完整，请重试"),
      T("body_timeout", "提交内容超时，请检查网络后重试"), T("callsign_taken", "呼号已被使用"),
      T("client_id_conflict", "该上报编号已被另一条上报使用"), T("conflict", "与已有数据冲突"),
      T("db_error", "数据库出错，请稍后再试"), T("db_timeout", "数据库响应超时，请稍后再试"),
      T("db_unavailable", "数据库暂时不可用，请稍后再试"),
      T("events_starting", "实时事件服务正在启动，请稍后再试"), T("forbidden", "无权执行此操作"),
      T("index_not_ready", "空间索引尚未就绪，请稍后再试"),
      T("index_unavailable", "空间索引暂不可用，请稍后再试"), T("internal", "服务器内部错误"),
      T("invalid_after", "事件序号无效"), T("invalid_bbox", "地图范围无效"),
      T("invalid_body", "请求内容格式不正确"),
      T("invalid_candidate", "候选站址无效（须在统计区划内）"), T("invalid_category", "类别无效"),
      T("invalid_credentials", "用户名或密码错误"), T("invalid_crs", "坐标系无效"),
      T("invalid_cursor", "分页位置无效，请从第一页重新查询"),
      T("invalid_division", "行政区划代码无效"), T("invalid_field", "填写的内容无效"),
      T("invalid_form", "表单内容无效"), T("invalid_geometry", "几何参数无效"),
      T("invalid_json", "请求内容不是有效的 JSON"), T("invalid_last_event_id", "事件序号无效"),
      T("invalid_layer", "图层无效"), T("invalid_limit", "数量超出允许范围"),
      T("invalid_location", "位置无效"), T("invalid_path", "请求地址无效"),
      T("invalid_period", "时间段无效或超出允许的长度"), T("invalid_query", "查询内容无效"),
      T("invalid_reset_code", "重置码错误、已使用或已过期"), T("invalid_simplify", "简化参数无效"),
      T("invalid_since", "时间无效"), T("invalid_status", "状态无效"),
      T("invalid_time", "时间超出允许的范围"), T("invalid_tile", "瓦片编号无效"),
      T("invalid_transition", "上报当前的状态不允许此操作"), T("invalid_user", "用户编号无效"),
      T("invalid_within", "行政区划代码无效"),
      T("member_in_other_unit", "该用户已是其他巡查单位的成员"),
      T("member_other_division", "该用户不属于本单位所在辖区"),
      T("method_not_allowed", "不支持此请求方法"), T("missing_field", "缺少必填内容"),
      T("no_parent_station", "没有可升级的上级站点"), T("not_a_member", "该用户不是本单位成员"),
      T("not_found", "未找到（或不在本辖区）"),
      T("not_your_unit", "只有被派遣的单位可以执行此操作"), T("out_of_memory", "服务器内存不足"),
      T("password_changed", "密码已修改，请重新登录"), T("starting", "服务正在启动，请稍后再试"),
      T("payload_too_large", "提交的内容过大"), T("too_many_attempts", "尝试次数过多，请稍后再试"),
      T("too_spread", "一次提交的位置分布过广，请分批提交"),
      T("too_many_fixes", "该时间段的位置点过多，请缩短时间段"),
      T("too_many_items", "一次提交的上报过多"), T("too_many_positions", "一次提交的位置过多"),
      T("over_budget", "查询范围过大，请缩短时间段或缩小区划"), T("invalid_to", "截止日期无效"),
      T("outside_division", "位置不在所选行政区划内"), T("shift_overlap", "该单位在此时段已有班次"),
      T("station_code_taken", "站点编号已被使用"),
      T("too_many_streams", "实时连接已满，请稍后再试"), T("unauthorized", "未登录或登录已失效"),
      T("unit_on_assignment", "单位正在执行任务"), T("unit_unavailable", "单位当前不可派遣"),
      T("unknown_report", "引用的上报不存在"), T("unknown_station", "站点不存在"),
      T("unsupported_media_type", "不支持的内容类型"), T("username_taken", "用户名已被使用"),
      T("weak_password", "密码强度不足"));

/* Every table: the OpenAPI schemas and, those with a `list`, GET /api/v1/vocabulary in this
 * order. */
static const vocab *const all[] = {
    &VOCAB_CATEGORY,        &VOCAB_REPORT_STATUS, &VOCAB_OUTCOME,      &VOCAB_REPORT_SOURCE,
    &VOCAB_SOURCE_INPUT,    &VOCAB_PHONE_CHANNEL, &VOCAB_LEVEL,        &VOCAB_TIER,
    &VOCAB_UNIT_STATUS,     &VOCAB_UNIT_SETTABLE, &VOCAB_EVENT_TYPE,   &VOCAB_TIMELINE,
    &VOCAB_EVENT_KIND,      &VOCAB_SEX,           &VOCAB_ROLE,         &VOCAB_DIVISION_KIND,
    &VOCAB_DIVISION_CHANGE, &VOCAB_AGENCY_KIND,   &VOCAB_TIME_PRESET,  &VOCAB_WALKED_STATUS,
    &VOCAB_AUDIT_KIND,      &VOCAB_AUDIT_ACTION,  &VOCAB_AUDIT_ENTITY, &VOCAB_STATS_BY,
    &VOCAB_STATS_TERM,      &VOCAB_REPORT_FIELD,  &VOCAB_ERROR};

const vocab *const *vocab_all(size_t *n) {
    *n = sizeof all / sizeof all[0];
    return all;
}

int vocab_find(const vocab *v, const char *s) {
    for (size_t i = 0; s && i < v->n; i++)
        if (strcmp(s, v->terms[i].code) == 0) return (int)i;
    return -1;
}

const char *vocab_code(const vocab *v, size_t i) {
    return v->terms[i].code;
}

const char *vocab_label(const vocab *v, const char *s) {
    int i = vocab_find(v, s);
    if (i < 0) return NULL;
    if (v->terms[i].label) return v->terms[i].label;
    return v->labels_from ? vocab_label(v->labels_from, s) : NULL;
}

json_t *vocab_bilingual(const vocab_term *t) {
    return t->label_en ? json_sprintf("%s / %s", t->label, t->label_en) : json_string(t->label);
}

void vocab_message(const vocab *v, const char *field, int list, char *out, size_t outlen) {
    char codes[512];
    vocab_join(v, ", ", codes, sizeof codes);
    snprintf(out, outlen, "%s must be %s: %s", field, list ? "a comma-separated list of" : "one of",
             codes);
}

/* Appends s at *len of out (outlen > 0), cutting it short at the end. */
static void put(char *out, size_t outlen, size_t *len, const char *s) {
    size_t n = strlen(s);
    if (*len + n >= outlen) n = outlen - 1 - *len;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = 0;
}

void vocab_join(const vocab *v, const char *sep, char *out, size_t outlen) {
    size_t len = 0;
    if (!outlen) return;
    out[0] = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (i) put(out, outlen, &len, sep);
        put(out, outlen, &len, v->terms[i].code);
    }
}

void vocab_pg_array(const vocab *v, unsigned mask, unsigned want, char *out, size_t outlen) {
    size_t len = 0;
    int first = 1;
    if (!outlen) return;
    out[0] = 0;
    put(out, outlen, &len, "{");
    for (size_t i = 0; i < v->n; i++) {
        if ((v->terms[i].flags & mask) != want) continue;
        if (!first) put(out, outlen, &len, ",");
        put(out, outlen, &len, v->terms[i].code);
        first = 0;
    }
    put(out, outlen, &len, "}");
}

int vocab_parse_list(const vocab *v, const char *in, char *out, size_t outlen) {
    size_t len = 0;
    out[len++] = '{';
    const char *p = in;
    int count = 0;
    while (*p) {
        const char *e = strchr(p, ',');
        if (!e) e = p + strlen(p);
        while (p < e && *p == ' ')
            p++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        int ok = 0;
        for (size_t i = 0; i < v->n && !ok; i++)
            ok = strlen(v->terms[i].code) == (size_t)(t - p) &&
                 memcmp(v->terms[i].code, p, (size_t)(t - p)) == 0;
        if (!ok || len + (size_t)(t - p) + 3 > outlen) return -1;
        if (count++) out[len++] = ',';
        memcpy(out + len, p, (size_t)(t - p));
        len += (size_t)(t - p);
        p = *e ? e + 1 : e;
        if (*e && !*p) return -1; /* trailing comma */
    }
    if (!count) return -1;
    out[len++] = '}';
    out[len] = 0;
    return 0;
}

json_t *vocab_enum_json(const vocab *v) {
    json_t *e = json_array();
    for (size_t i = 0; i < v->n; i++)
        if (!(v->terms[i].flags & VOCAB_INTERNAL))
            json_array_append_new(e, json_string(v->terms[i].code));
    return json_pack("{s:s,s:o}", "type", "string", "enum", e);
}

/* The flags by name, as the published schemas list them ("x-flags"). */
static const struct {
    unsigned flag;
    const char *name;
} flag_names[] = {
    {VOCAB_OPEN, "open"},       {VOCAB_INITIAL, "initial"},  {VOCAB_HOLDS_UNIT, "holds_unit"},
    {VOCAB_CLOSED, "closed"},   {VOCAB_EV_REPORT, "report"}, {VOCAB_EV_UNIT, "unit"},
    {VOCAB_EV_PATROL, "patrol"}};

/* {"$ref": "#/components/schemas/<name>"} */
static json_t *ref(const char *name) {
    return json_pack("{s:o}", "$ref", json_sprintf("#/components/schemas/%s", name));
}

/* The schema of GET /api/v1/vocabulary: every served list, its codes typed by their enum. */
static json_t *vocabulary_schema(void) {
    json_t *props = json_object(), *required = json_array();
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (!all[i]->list) continue;
        json_t *item = json_pack("{s:[o,{s:{s:o}}]}", "allOf", ref("VocabularyTerm"), "properties",
                                 "code", ref(all[i]->component));
        json_object_set_new(props, all[i]->list,
                            json_pack("{s:s,s:o}", "type", "array", "items", item));
        json_array_append_new(required, json_string(all[i]->list));
    }
    return json_pack(
        "{s:s,s:s,s:o,s:o}", "type", "object", "description",
        "Every code list with its Chinese label (an error code's label is its message)", "required",
        required, "properties", props);
}

static json_t *term_schema(void) {
    return json_pack("{s:s,s:[s,s],s:{s:{s:s},s:{s:s,s:i},s:{s:s},s:{s:s,s:s},s:{s:s,s:s}}}",
                     "type", "object", "required", "code", "label", "properties", "code", "type",
                     "string", "label", "type", "string", "minLength", 1, "description", "type",
                     "string", "open", "type", "boolean", "description",
                     "report statuses: an open report", "settable", "type", "boolean",
                     "description", "unit statuses: a client may set it");
}

void vocab_add_schemas(json_t *schemas) {
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        json_t *s = vocab_enum_json(all[i]), *flags = json_object();
        for (size_t f = 0; f < sizeof flag_names / sizeof flag_names[0]; f++) {
            json_t *codes = json_array();
            for (size_t k = 0; k < all[i]->n; k++)
                if (all[i]->terms[k].flags & flag_names[f].flag)
                    json_array_append_new(codes, json_string(all[i]->terms[k].code));
            if (json_array_size(codes))
                json_object_set_new(flags, flag_names[f].name, codes);
            else
                json_decref(codes);
        }
        if (json_object_size(flags))
            json_object_set_new(s, "x-flags", flags);
        else
            json_decref(flags);
        json_object_set_new(schemas, all[i]->component, s);
    }
    json_object_set_new(schemas, "Vocabulary", vocabulary_schema());
    json_object_set_new(schemas, "VocabularyTerm", term_schema());
}

void vocab_pg_array_bits(const vocab *v, unsigned bits, char *out, size_t outlen) {
    size_t len = 0;
    if (!outlen) return;
    out[0] = 0;
    put(out, outlen, &len, "{");
    for (size_t i = 0, first = 1; i < v->n; i++) {
        if (!(bits >> i & 1)) continue;
        if (!first) put(out, outlen, &len, ",");
        put(out, outlen, &len, v->terms[i].code);
        first = 0;
    }
    put(out, outlen, &len, "}");
}

int vocab_tier_ack_s(const config *c, size_t t) {
    if (t >= sizeof tier_ack / sizeof tier_ack[0]) t = TIER_CITY; /* unknown: the city's */
    return *(const int *)((const char *)c + tier_ack[t]);
}

void vocab_tier_ack_json(const config *c, char *out, size_t outlen) {
    size_t len = 0;
    char item[64];
    if (!outlen) return;
    out[0] = 0;
    put(out, outlen, &len, "{");
    for (size_t t = 0; t < VOCAB_TIER.n; t++) {
        snprintf(item, sizeof item, "%s\"%s\":%d", t ? "," : "", VOCAB_TIER.terms[t].code,
                 vocab_tier_ack_s(c, t));
        put(out, outlen, &len, item);
    }
    put(out, outlen, &len, "}");
}

/* ---- vocabulary values in SQL ---- */

int vocab_sql_has_marker(const char *sql) {
    return strstr(sql, "${") != NULL;
}

/* Appends n bytes of s to out at *len, counting what does not fit. */
static void sql_put(char *out, size_t outlen, size_t *len, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++, (*len)++)
        if (*len + 1 < outlen) out[*len] = s[i];
}

/* The codes one marker "${V&F}" or "${V#I}" (m points after "${", up to end) stands for, quoted
 * and comma-separated, appended to out. Returns 0, or -1 when it names nothing. */
static int sql_marker(const char *m, const char *end, char *out, size_t outlen, size_t *len) {
    const char *op = m;
    while (op < end && *op != '&' && *op != '#')
        op++;
    const vocab *v = NULL;
    for (size_t i = 0; i < sizeof all / sizeof all[0] && op < end; i++)
        if (strlen(all[i]->component) == (size_t)(op - m) &&
            memcmp(all[i]->component, m, (size_t)(op - m)) == 0)
            v = all[i];
    char *num_end;
    unsigned long x = v ? strtoul(op + 1, &num_end, 10) : 0;
    if (!v || num_end != end || num_end == op + 1) return -1;
    int count = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (*op == '#' ? i != x : (v->terms[i].flags & x) != x) continue;
        if (count++) sql_put(out, outlen, len, ", ", 2);
        sql_put(out, outlen, len, "'", 1);
        sql_put(out, outlen, len, v->terms[i].code, strlen(v->terms[i].code));
        sql_put(out, outlen, len, "'", 1);
    }
    return count ? 0 : -1;
}

long vocab_sql_expand(const char *sql, char *out, size_t outlen) {
    size_t len = 0;
    for (const char *p = sql; *p;) {
        const char *m = strstr(p, "${");
        if (!m) m = p + strlen(p);
        sql_put(out, outlen, &len, p, (size_t)(m - p));
        if (!*m) break;
        const char *end = strchr(m, '}');
        if (!end || sql_marker(m + 2, end, out, outlen, &len) != 0) return -1;
        p = end + 1;
    }
    if (outlen) out[len < outlen ? len : outlen - 1] = 0;
    return (long)len;
}

int vocab_code12(const char *in, int min_digits, char out[13]) {
    size_t n = in ? strlen(in) : 0;
    if (!(n == 2 && min_digits <= 2) && n != 4 && n != 6 && n != 9 && n != 12) return -1;
    for (size_t i = 0; i < n; i++)
        if (in[i] < '0' || in[i] > '9') return -1;
    memcpy(out, in, n);
    memset(out + n, '0', 12 - n);
    out[12] = 0;
    return 0;
}

void vocab_code_prefix(const char *code12, char out[13]) {
    static const int cut[] = {2, 4, 6, 9};
    int n = 12;
    for (int i = 0; i < 4; i++) {
        int zeros = 1;
        for (int k = cut[i]; k < 12 && code12[k]; k++)
            zeros &= code12[k] == '0';
        if (zeros) {
            n = cut[i];
            break;
        }
    }
    memcpy(out, code12, (size_t)n);
    out[n] = 0;
}

int vocab_code_within(const char *code12, const char *prefix) {
    if (!code12 || !*code12) return strlen(prefix) <= 4;
    return strncmp(code12, prefix, strlen(prefix)) == 0;
}

static json_t *term_json(const vocab *v, size_t i) {
    const vocab_term *t = &v->terms[i];
    const char *label = vocab_label(v, t->code);
    json_t *o = json_pack("{s:s,s:s}", "code", t->code, "label", label ? label : "");
    if (o && t->description) json_object_set_new(o, "description", json_string(t->description));
    if (o && v == &VOCAB_REPORT_STATUS)
        json_object_set_new(o, "open", json_boolean(t->flags & VOCAB_OPEN));
    if (o && v == &VOCAB_UNIT_STATUS)
        json_object_set_new(o, "settable",
                            json_boolean(vocab_find(&VOCAB_UNIT_SETTABLE, t->code) >= 0));
    return o;
}

json_t *vocab_lists_json(void) {
    json_t *out = json_object();
    for (size_t i = 0; out && i < sizeof all / sizeof all[0]; i++) {
        if (!all[i]->list) continue;
        json_t *list = json_array();
        size_t served = 0;
        for (size_t k = 0; k < all[i]->n; k++)
            if (!(all[i]->terms[k].flags & VOCAB_INTERNAL) && ++served)
                json_array_append_new(list, term_json(all[i], k));
        if (!list || json_array_size(list) != served) {
            json_decref(list);
            json_decref(out);
            return NULL;
        }
        if (json_object_set_new(out, all[i]->list, list) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}
