"""The topic a fresh install watches (US export controls on AI chips): the dictionary of terms
relevance starts from, in English and Chinese, before the watched claims widen it. Data, not code:
a reader's `[topic]` in monitor.toml replaces it."""

from __future__ import annotations

from monitor.keep.relevance import Kind, TermGroup, Topic

# --- the default topic: US AI-chip export controls and China's chip industry ------------------
# Kept identical to the [topic] of config/monitor.toml (a test compares the two).


def _group(name: str, kind: Kind, terms: str) -> TermGroup:
    return TermGroup(name=name, kind=kind, terms=tuple(t.strip() for t in terms.split("|")))


DEFAULT_TOPIC = Topic(
    min_strong=1,
    min_subject=1,
    min_context=1,
    ignore=(
        "blue chip",
        "bargaining chip",
        "potato chip",
        "chocolate chip",
        "poker chip",
        "casino chip",
        "chip shot",
        "chip and pin",
    ),
    groups=(
        _group(
            "export_controls",
            "strong",
            "export control | Export Administration Regulations | foreign direct product rule | FDPR"
            " | AI diffusion | diffusion rule | chip ban | chip curb | chip restriction | chip export"
            " | chip embargo | semiconductor export | chip war | tech war | Wassenaar | ECCN"
            " | 3A090 | 4A090 | military end user | military end-use | Chip Security Act | GAIN AI Act"
            " | chip smuggling | GPU smuggling | total processing performance | performance density"
            " | 出口管制 | 出口管控 | 出口管理条例 | 外国直接产品规则 | 直接产品规则 | 扩散规则"
            " | 芯片禁令 | 芯片管制 | 芯片出口 | 芯片战 | 芯片走私 | 晶片禁令 | 晶片管制 | 晶片出口"
            " | 晶片战 | 晶片走私 | 半导体出口 | 科技战 | 两用物项 | 瓦森纳",
        ),
        _group(
            "entity_lists",
            "strong",
            "Entity List | Unverified List | Unreliable Entity List | Military End-User List"
            " | Bureau of Industry and Security"
            " | 实体清单 | 实体名单 | 不可靠实体清单 | 未经核实清单 | 未核实清单 | 管控名单"
            " | 工业与安全局 | 工业和安全局 | 工业暨安全局 | 工业安全局",
        ),
        _group(
            "china_market_chips",
            "strong",
            "H20 | H20E | H800 | A800 | B30A | RTX Pro 6000D | RTX 6000D | RTX 4090D | 4090D | MI308 | MI308X",
        ),
        _group(
            "chinese_chipmakers",
            "strong",
            "SMIC | Cambricon | Huawei Ascend | Ascend 910 | Ascend 910B | Ascend 910C | Ascend 920"
            " | Ascend 950 | Ascend chip | Ascend AI | MindSpore | HiSilicon | Hygon | Biren | Moore Threads | MetaX"
            " | Enflame | Iluvatar | Kunlunxin | YMTC | Yangtze Memory | CXMT | ChangXin | Hua Hong"
            " | Huahong | SMEE | Naura | Advanced Micro-Fabrication | Sophgo | Loongson | Zhaoxin | SiCarrier"
            " | 中芯国际 | 華為昇騰 | 昇騰910 | 昇騰910B | 昇騰910C | 昇騰920 | 昇騰950 | 昇騰芯片 | 昇騰晶片 | 昇騰AI"
            " | 思元 | 海光信息 | 海光資訊 | 壁仞 | 摩尔线程 | 沐曦 | 燧原 | 天数智芯 | 昆仑芯 | 长江存储 | 长鑫"
            " | 华虹半导体 | 华虹宏力 | 华虹集团 | 上海微电子 | 北方华创 | 中微公司 | 算能科技 | 龙芯 | 兆芯 | 新凯来",
        ),
        _group(
            "chips",
            "subject",
            "chip | microchip | semiconductor | chipmaker | chipmaking | chipset | GPU | graphics processor"
            " | graphics card | AI accelerator | AI processor | AI server | DRAM | NAND | wafer | foundry"
            " | lithography | EUV | DUV | extreme ultraviolet | advanced computing | supercomputer"
            " | supercomputing | MLPerf | 7nm | 5nm | 3nm | 7-nanometer | 5-nanometer"
            " | 芯片 | 晶片 | 半导体 | 集成电路 | 積體電路 | 处理器 | 显卡 | 顯示卡 | 晶圆 | 晶圆代工 | 光刻"
            " | 光刻机 | 曝光機 | 微影 | 算力 | 超算 | 超级计算机 | 先进制程 | 7纳米 | 5纳米 | 7奈米 | 5奈米",
        ),
        _group(
            "nvidia",
            "subject",
            "Nvidia | NVDA | Jensen Huang | H100 | H200 | A100 | B100 | B200 | B300 | GB200 | GB300"
            " | Blackwell | Hopper | CUDA | DGX | NVLink | RTX Pro | 英伟达 | 輝達 | 英偉達 | 黄仁勋",
        ),
        _group(
            "chip_firms",
            "subject",
            "AMD | Intel | Qualcomm | Micron Technology | Broadcom | TSMC | Taiwan Semiconductor | ASML"
            " | Applied Materials | Lam Research | KLA | Tokyo Electron | Synopsys | SK Hynix | Hynix"
            " | Supermicro | Super Micro"
            " | 超威 | 超微 | 英特尔 | 高通 | 美光 | 博通 | 台积电 | 阿斯麦 | 艾司摩爾 | 应用材料 | 应材"
            " | 泛林 | 科磊 | 东京电子 | 新思科技 | 海力士 | 美超微",
        ),
        _group(
            "hbm",
            "subject",
            "HBM | HBM2 | HBM2E | HBM3 | HBM3E | HBM4 | high-bandwidth memory"
            " | 高带宽内存 | 高带宽存储 | 高頻寬記憶體 | 高频宽存储",
        ),
        _group(
            "critical_minerals",
            "subject",
            "rare earth | gallium | germanium | antimony | graphite | tungsten | critical mineral"
            " | 稀土 | 镓 | 锗 | 锑 | 石墨 | 钨 | 关键矿产 | 关键矿物 | 战略矿产",
        ),
        _group(
            "tech_talent",
            "subject",
            "brain drain | talent flow | talent exodus | talent war | returnee | K visa | H-1B | student visa"
            " | 人才回流 | 人才外流 | 人才流失 | 人才争夺 | 海归 | 回国创业 | K签证 | K字签证",
        ),
        _group(
            "china",
            "context",
            "China | Chinese | Beijing | PRC | People's Republic | CCP | Chinese Communist Party"
            " | Huawei | Ascend | Alibaba | T-Head | Baidu | Tencent | ByteDance | DeepSeek | ZTE"
            " | 中国 | 中方 | 中美 | 对华 | 我国 | 国产 | 大陆 | 陆企 | 陆厂 | 陆资 | 中资 | 北京"
            " | 华为 | 昇騰 | 寒武纪 | 海思 | 阿里巴巴 | 阿里云 | 平头哥 | 百度 | 腾讯 | 字节跳动 | 深度求索 | 中兴"
            " | 自主可控",
        ),
        _group(
            "restrictions",
            "context",
            "ban | banned | banning | restrict | restricted | restricting | restriction | curb | curbed"
            " | curbing | sanction | sanctioned | blacklist | blacklisted | embargo | crackdown | prohibit"
            " | prohibited | prohibition | licence | license | licensing | export rule | dual-use | decoupling"
            " | 禁令 | 禁止 | 限制 | 限令 | 管制 | 管控 | 制裁 | 黑名单 | 封锁 | 禁运 | 禁售 | 许可证 | 出口许可"
            " | 暂停出口 | 断供 | 卡脖子 | 脱钩 | 围堵 | 打压 | 遏制"
            " | 长臂管辖",
        ),
        _group(
            "smuggling",
            "context",
            "smuggling | smuggle | smuggled | smuggler | grey market | gray market | black market"
            " | diversion | diverted | transshipment | transship | shell company | front company"
            " | 走私 | 灰色市场 | 灰市 | 黑市 | 水货 | 转运 | 转口 | 空壳公司 | 人頭公司",
        ),
        _group(
            "us_policy",
            "context",
            "Commerce Department | Department of Commerce | US Commerce | U.S. Commerce | Commerce Secretary"
            " | BIS | Lutnick | Raimondo | White House | Trump administration | Biden administration"
            " | national security | House Select Committee | Select Committee on the CCP"
            " | 美国商务部 | 美商务部 | 美国政府 | 美方 | 白宫 | 华府 | 卢特尼克 | 雷蒙多 | 国家安全"
            " | 特朗普政府 | 川普政府 | 拜登政府",
        ),
        _group(
            "china_countermeasures",
            "context",
            "MOFCOM | Ministry of Commerce | countermeasure | retaliation | retaliatory | retaliate"
            " | antitrust | anti-monopoly | anti-dumping | anti-discrimination | security review | backdoor"
            " | Cyberspace Administration | State Administration for Market Regulation | SAMR | customs"
            " | 商务部 | 反制 | 反倾销 | 反垄断 | 反歧视 | 安全审查 | 后门 | 网信办 | 约谈 | 市场监管总局"
            " | 海关",
        ),
        _group(
            "market_share",
            "context",
            "market share | share of the market | 份额 | 市占率 | 市占",
        ),
    ),
)
