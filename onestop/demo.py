"""Demo data for the embedded default: Xining (西宁市), Qinghai, the XN seed's city.

Real GB/T 2260 division codes; credit codes carry valid GB 32100-2015 check
characters (the enterprises themselves are fictitious).
"""

from __future__ import annotations

PROVINCE = "630000"  # the demo loads Qinghai whole from the official division data

# (parent, kind, name): parks (QCY 园区工作站), service stations (CX 一镇一站) and a park
# work station, which the platform codes (630102-P0001 …)
UNITS: list[tuple[str, str, str]] = [
    ("630102", "park", "东川工业园区"),
    ("630106", "park", "甘河工业园区"),
    ("630100", "station", "西宁市科技服务站"),
    ("630102", "station", "城东区科技服务站"),
    ("630102-P0001", "workstation", "东川工业园区科技工作站"),
]

# (id, jurisdiction, name, segments, is_default)
DEPARTMENTS: list[tuple[str, str, str, tuple[str, ...], bool]] = [
    ("qh-kjt-office", "630000", "青海省科学技术厅 办公室", (), True),
    ("xn-office", "630100", "西宁市科学技术局 办公室", (), True),
    (
        "xn-hitech",
        "630100",
        "西宁市科学技术局 高新技术科",
        ("technology", "achievement_transfer"),
        False,
    ),
    ("xn-talent", "630100", "西宁市科学技术局 科技人才科", ("talent",), False),
    ("xn-finance", "630100", "西宁市科学技术局 科技金融与知识产权科", ("funding", "ip"), False),
    ("cd-kjj", "630102", "城东区科学技术局", (), True),
    ("cz-kjj", "630103", "城中区科学技术局", (), True),
    ("cx-kjj", "630104", "城西区科学技术局", (), True),
    ("cb-kjj", "630105", "城北区科学技术局", (), True),
    ("hz-kjj", "630106", "湟中区科学技术局", (), True),
]

# (id, department, name, title)
STAFF: list[tuple[str, str, str, str]] = [
    ("staff-001", "xn-hitech", "李明", "科长"),
    ("staff-002", "xn-hitech", "王芳", "包保专员"),
    ("staff-003", "xn-talent", "张伟", "科长"),
    ("staff-004", "cd-kjj", "赵敏", "副局长"),
    ("staff-005", "cd-kjj", "陈静", "包保专员"),
]

# department → its leader (the overdue escalation goes to them)
LEADERS: dict[str, str] = {
    "xn-hitech": "staff-001",
    "xn-talent": "staff-003",
    "cd-kjj": "staff-004",
}

# Xining's standard-contract menu, illustrative figures (the seeds give none):
# (service item, price CNY, policy coverage CNY, expected months to settlement)
MENU: list[tuple[str, int, int | None, int | None]] = [
    ("ip_filing", 3000, 3000, 6),
    ("ip_portfolio", 12000, 8000, 12),
    ("ip_protection", 8000, None, 6),
    ("patent_use", 8000, 8000, 18),
    ("finance_matching", 5000, None, 3),
    ("rd_expense_deduction", 6000, 6000, 10),
    ("project_application", 10000, 10000, 14),
    ("technical_breakthrough", 30000, 20000, 24),
    ("product_rd", 20000, 15000, 12),
    ("testing", 4000, 4000, 2),
]

# (id, name, category, rank basis = last year's in-city high-tech business volume)
AGENCIES: list[tuple[str, str, str, int]] = [
    ("ag-fin-1", "青海汇智科技金融服务有限公司", "finance", 42),
    ("ag-fin-2", "西宁创融财务咨询有限公司", "finance", 31),
    ("ag-rd-1", "青海高原研发服务中心", "rd", 38),
    ("ag-rd-2", "西宁博研技术服务有限公司", "rd", 22),
    ("ag-pat-1", "青海知桥专利代理事务所", "patent", 55),
    ("ag-pat-2", "西宁智权知识产权服务有限公司", "patent", 17),
    ("ag-gen-1", "西宁科创综合服务有限公司", "general", 26),
    ("ag-gen-2", "青海启航企业服务有限公司", "general", 12),
]

# (credit code, name, jurisdiction)
ENTERPRISES: list[tuple[str, str, str]] = [
    ("91630102MA7522T5X6", "青海高原新材料科技有限公司", "630102"),
    ("91630103MA75A3KX7N", "西宁光伏装备制造有限公司", "630103"),
    ("91630104710405288K", "青海盐湖锂业科技有限公司", "630104"),
    ("91630105MA7NHP6Q1L", "西宁藏药生物科技有限公司", "630105"),
    ("91630100226580371K", "青海电子信息产业有限公司", "630100"),
    ("91630121MA7532XW4R", "大通农牧科技有限公司", "630121"),
    ("91630123MA75B1D297", "湟源特色食品科技有限公司", "630123"),
    ("91630100MA752UF1XB", "西宁数智软件有限公司", "630100"),
]

# the expert pool (专家库) of Xining: (id, unit, name, technology fields, institution)
EXPERTS: list[tuple[str, str, str, tuple[str, ...], str]] = [
    ("ex-lithium", "630100", "马建国", ("新材料", "锂电池"), "青海大学化工学院"),
    ("ex-pv", "630100", "李文华", ("光伏", "新能源"), "中国科学院青海盐湖研究所"),
    ("ex-tibetan-med", "630100", "才让多杰", ("生物医药", "藏医药"), "青海省藏医药研究院"),
]

# role → (jurisdiction, agency id)
DEMO_KEYS: dict[str, tuple[str, str | None]] = {
    "admin": ("630000", None),
    "district": ("630102", None),
    "staff": ("630100", None),
    "agency": ("630100", "ag-pat-1"),
}


# One person per role (log-in, name, unit, roles, bindings). They sign in at
# POST /directory/api/v1/sessions with DEMO_PASSWORD; the three administrators also with
# the code of their second factor (its secret is in demo-credentials.json).
DEMO_PASSWORD = "Onestop-Demo-2026"
PEOPLE: list[tuple[str, str, str, tuple[str, ...], dict[str, object]]] = [
    ("sys.admin", "系统管理员", "630000", ("sysadmin",), {}),
    ("sec.admin", "安全管理员", "630000", ("secadmin",), {}),
    ("audit.admin", "审计管理员", "630000", ("auditor",), {}),
    ("leader.xn", "西宁市科技局领导", "630100", ("leader",), {}),
    # 城东区科技局's deputy director, cd-kjj's leader: its breaches are escalated to her
    ("zhao.min", "赵敏", "630102", ("leader",), {"staff_id": "staff-004"}),
    ("chen.jing", "陈静", "630102", ("office_staff",), {"staff_id": "staff-005"}),
    ("station.cd", "城东区科技服务站", "630102-S0001", ("station_staff",), {}),
    # the operator of 西宁's alliance (CX 服务站): an alliance belongs to the unit that runs
    # it, so its station staff are bound to the city
    ("station.xn", "西宁市科技服务站", "630100", ("station_staff",), {}),
    ("tepai.li", "李特派", "630102", ("commissioner",), {}),
    ("clerk.pat", "专利代理机构办事员", "630100", ("agency_clerk",), {"agency_id": "ag-pat-1"}),
    (
        "qiye.gaoyuan",
        "青海高原新材料",
        "630102",
        ("enterprise",),
        {"credit_codes": ["91630102MA7522T5X6"]},
    ),
]
