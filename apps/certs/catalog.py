"""The PBoC catalogs of fintech products that need certification: the 2019 catalog of 11
product types, and the 2022 revision, which adds three. A certificate records the catalog
version it was issued under."""

from __future__ import annotations

CATALOG_2019 = {
    "client-software": "Client software (客户端软件)",
    "security-chip": "Security chip (安全芯片)",
    "security-carrier": "Security carrier (安全载体)",
    "embedded-app": "Embedded application software (嵌入式应用软件)",
    "atm": "ATM terminal (银行卡自动柜员机)",
    "pos": "POS terminal (销售点终端)",
    "mobile-tee": "Mobile terminal TEE (移动终端可信执行环境)",
    "trusted-app": "Trusted application (可信应用程序)",
    "barcode-terminal": "Barcode payment acceptance terminal (条码支付受理终端)",
    "voiceprint": "Voiceprint recognition system (声纹识别系统)",
    "cloud-platform": "Cloud computing platform (云计算平台)",
}
CATALOG_2022 = {
    **CATALOG_2019,
    "blockchain": "Blockchain technology product (区块链技术产品)",
    "bank-api": "Commercial bank application programming interface (商业银行应用程序接口)",
    "mpc": "Multi-party secure computation product (多方安全计算金融应用)",
}
CATALOGS = {"2019": CATALOG_2019, "2022": CATALOG_2022}
VALIDITY_YEARS = 3
