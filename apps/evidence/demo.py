"""The demo's texts and parties, in one place for the scenario, the benchmark and the tests.

The chapter is written for this demo. The "copy" is the chapter lightly edited the way
infringing sites do (a few words swapped, a sentence dropped, their own header), which is
what the similarity search must see through.
"""

from __future__ import annotations

AUTHOR, INFRINGER, PLATFORM = "author-li", "site-x", "evidence-platform"
COURT, APPRAISER, NOTARY = "hz-internet-court", "forensic-center", "hz-notary"
CASE = "(2026)浙0192民初1024号"
CASE_TITLE = "李某诉某网站侵害作品信息网络传播权纠纷"
CAUSE = "侵害作品信息网络传播权纠纷 (infringement of the right of communication over networks)"
INFRINGING_URL = "https://site-x.example/novel/chapter-12.html"

CHAPTER = """第十二章 雨夜渡口

雨是从傍晚开始下的。沈青提着那盏旧马灯走到渡口的时候，江面上已经看不见对岸的灯火了。老船夫把缆绳绕在木桩上，抬头看了她一眼，说今晚不开船。她没有说话，只是把怀里的布包又抱紧了一些。布包里是父亲留下的一本账册，纸页发黄，边角被虫蛀出了细小的孔洞，可每一笔数字都写得端端正正。

她知道，只要过了这条江，把账册交到城里那位姓周的先生手上，二十年前那桩旧案就能重新翻开。父亲临终前反复叮嘱，账册不能离身，也不能让人知道它还在世上。她在渡口的草棚下坐了很久，听雨点一阵紧似一阵地打在芦苇上，像有人在远处敲着一面破鼓。

半夜时分，江上忽然亮起一点灯光。那是一条没有挂旗的小船，船头站着一个披蓑衣的人。他把船靠上岸，低声问她是不是沈家的女儿。沈青没有回答，反问他是谁派来的。那人笑了笑，从怀里掏出半块玉佩，和她颈上挂着的那半块正好合在一起。

船在黑暗里走得很慢。披蓑衣的人一边摇橹，一边讲起当年的事：粮仓失火那一夜，账房里少了三本账，只有一本被人悄悄送出了城。送账的人就是她的父亲。后来那三本账再也没有出现过，而追查此事的人，一个接一个地离开了这座城。

天快亮的时候，雨停了。对岸的城墙在晨雾里慢慢显出轮廓，城门上方挂着的灯笼还没有熄灭。沈青站在船头，第一次觉得怀里的账册沉得像一块石头。她知道，从这一刻起，她再也不能回头了。
"""


def infringing_copy() -> str:
    """The chapter as site X republished it: its own header, a few words changed, a sentence
    dropped, the author's name gone."""
    edited = (
        CHAPTER.replace("第十二章 雨夜渡口", "【最新章节】第12章 渡口雨夜 - 某某小说网")
        .replace("旧马灯", "老马灯")
        .replace("端端正正", "整整齐齐")
        .replace("像有人在远处敲着一面破鼓。", "")
        .replace("披蓑衣的人", "穿蓑衣的人")
    )
    return edited + "\n本章完，更多精彩请关注某某小说网。\n"


UNRELATED = """第三章 山中来信

入秋以后，山里的雾一天比一天重。林晚每天清早都要到村口的邮筒去看一眼，虽然她心里明白，城里那位编辑的回信不会来得这样快。邮筒是铁皮做的，刷着早已褪色的绿漆，投信口被雨水锈出了一圈暗红的痕迹。

她寄出去的是一部写了三年的小说稿，讲的是她外婆年轻时在茶山上采茶、制茶、后来又办起一所小学的故事。稿子一共四十万字，她用复写纸抄了两份，一份寄走，一份锁在床头的木箱里。村里人都说她傻，放着镇上的工作不要，整天关在屋里写些没人看的东西。

第九天的下午，邮递员骑着自行车进了村，车铃一路响个不停。林晚正在院子里晒茶叶，听见铃声，手里的竹筛一歪，半筛茶叶撒在了地上。信封是牛皮纸的，上面印着出版社的名字，字迹端正而有力。她没有当场拆开，而是把信揣进衣兜，一口气跑到后山的松树林里。

信里只有短短几行字：稿子收到了，编辑部读过之后很喜欢，希望她下个月能到城里来一趟，当面谈谈修改的意见。信的末尾还附了一句话，说外婆的故事让他们想起了自己的家乡。林晚把信读了一遍又一遍，直到太阳落到山后，林子里的鸟都回了巢。

那天晚上，她第一次在外婆的遗像前点了一炷香。香烟袅袅地升起来，在昏黄的灯光里慢慢散开，像一封寄往远方、不需要回信的信。
"""
